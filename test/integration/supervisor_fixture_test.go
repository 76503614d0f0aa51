//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/selkie-dev/selkie/pkg/certauthority"
)

// supervisor is one selkie-supervisor process on the management cluster, serving the
// FederationDomains of its own namespace on the address the environment reserved.
type supervisor struct {
	namespace string
	addr      string
	// caPEM signed the supervisor's serving certificate; client trusts it.
	caPEM   []byte
	client  *http.Client
	logFile string
	stop    func()
}

// supervisorBinary builds selkie-supervisor once per run.
func supervisorBinary(t testing.TB) string {
	t.Helper()
	supervisorBuild.Do(func() {
		bin := filepath.Join(testWork, "selkie-supervisor")
		if out, err := exec.Command("go", "build", "-o", bin, testEnvRepoFileNoT("cmd/supervisor")).CombinedOutput(); err != nil {
			supervisorBuild.err = fmt.Errorf("build selkie-supervisor: %v\n%s", err, out)
		}
		supervisorBuild.bin = bin
	})
	if supervisorBuild.err != nil {
		t.Fatal(supervisorBuild.err)
	}
	return supervisorBuild.bin
}

//nolint:gochecknoglobals // one build per run
var supervisorBuild struct {
	sync.Once
	bin string
	err error
}

// startSupervisor creates a namespace and runs a supervisor for it on the reserved
// address; extra args are appended to serve's flags.
func startSupervisor(t *testing.T, extra ...string) *supervisor {
	t.Helper()
	if testEnv.SupervisorAddr == "" {
		t.Fatal("the environment reserved no supervisor address (SELKIE_SUPERVISOR_ADDR)")
	}
	installCRDsOn(t, 0)
	bin := supervisorBinary(t)
	ns := createNamespace(t, 0, "supervisor-")
	ca, err := certauthority.New("supervisor-test-ca", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.IssueServingCert([]string{"127.0.0.1"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, kp.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, kp.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	s := &supervisor{namespace: ns, addr: testEnv.SupervisorAddr, caPEM: ca.CertPEM(),
		logFile: filepath.Join(testWork, ns+".log")}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.caPEM)
	s.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	args := append([]string{"serve", "--kubeconfig", testEnv.Management().Kubeconfig, "--namespace", ns,
		"--https-address", s.addr, "--tls-cert-file", certFile, "--tls-key-file", keyFile, "--log-level", "debug"}, extra...)
	_, stop, err := startConciergeProcess(bin, s.logFile, args...)
	if err != nil {
		t.Fatal(err)
	}
	s.stop = stop
	t.Cleanup(stop)
	eventually(t, 30*time.Second, "the supervisor answers /healthz", func() (bool, error) {
		resp, err := s.client.Get("https://" + s.addr + "/healthz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("status %d", resp.StatusCode)
	})
	return s
}

// issuer is the URL of a FederationDomain on this supervisor.
func (s *supervisor) issuer(path string) string { return "https://" + s.addr + path }

// dexIdPYAML is an OIDCIdentityProvider trusting Dex, with its client Secret.
func dexIdPYAML(ns, name string, allowPassword bool) string {
	caPEM, err := os.ReadFile(testEnv.CABundle)
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: %[2]s-client, namespace: %[1]s}
type: secrets.selkie.dev/oidc-client
stringData: {clientID: %[3]q, clientSecret: %[4]q}
---
apiVersion: idp.supervisor.selkie.dev/v1alpha1
kind: OIDCIdentityProvider
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  issuer: %[5]q
  tls: {certificateAuthorityData: %[6]q}
  authorizationConfig:
    allowPasswordGrant: %[7]t
    additionalScopes: [openid, offline_access, email, profile, groups]
    additionalAuthorizeParameters: [{name: connector_id, value: local}]
  claims: {username: email, groups: groups}
  client: {secretName: %[2]s-client}
`, ns, name, testEnv.Dex.ClientID, testEnv.Dex.ClientSecret, testEnv.Dex.Issuer, base64.StdEncoding.EncodeToString(caPEM), allowPassword)
}

// federationDomainYAML is a FederationDomain at issuer using the named OIDC IdPs
// (displayName = name); none means legacy mode.
func federationDomainYAML(ns, name, issuer string, idps ...string) string {
	y := fmt.Sprintf("apiVersion: config.supervisor.selkie.dev/v1alpha1\nkind: FederationDomain\nmetadata: {name: %s, namespace: %s}\nspec:\n  issuer: %q\n", name, ns, issuer)
	if len(idps) > 0 {
		y += "  identityProviders:\n"
		for _, idp := range idps {
			y += fmt.Sprintf("  - displayName: %s\n    objectRef: {apiGroup: idp.supervisor.selkie.dev, kind: OIDCIdentityProvider, name: %s}\n", idp, idp)
		}
	}
	return y
}

// createNamespace creates a namespace on a cluster, deleted after the test.
func createNamespace(t *testing.T, cluster int, prefix string) string {
	t.Helper()
	kube := kubernetes.NewForConfigOrDie(adminConfig(t, testEnv.Clusters[cluster].Kubeconfig))
	ns, err := kube.CoreV1().Namespaces().Create(testContext(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = kube.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})
	return ns.Name
}
