//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/selkie-dev/selkie/pkg/certauthority"
	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
	"github.com/selkie-dev/selkie/test/env"
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
	// proc is the process startProcess started last.
	proc *env.Process
	// args start the process again (restart, replicas).
	args []string
	// t is the test that owns the supervisor: its processes stop when it ends.
	t testing.TB
}

// supervisorBinary is the selkie-supervisor that TestMain built.
func supervisorBinary(testing.TB) string { return selkieBins.supervisor }

// startSupervisor creates a namespace and runs a supervisor for it on the reserved
// address; extra args are appended to serve's flags.
func startSupervisor(t testing.TB, extra ...string) *supervisor {
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
	s := &supervisor{t: t, namespace: ns, addr: testEnv.SupervisorAddr, caPEM: ca.CertPEM(),
		logFile: filepath.Join(testWork, ns+".log")}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.caPEM)
	s.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	s.args = append([]string{"serve", "--kubeconfig", testEnv.Management().Kubeconfig, "--namespace", ns,
		"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--log-level", "debug",
		// No aggregated API unless a test asks for it (startSupervisorWithAPI): replicas
		// and parallel runs would all want port 10250 on every address.
		"--api-port", "0"}, extra...)
	s.stop = s.startProcess(t, bin, s.addr, s.logFile)
	return s
}

// startProcess runs one supervisor process on addr and waits for /healthz; the returned
// func stops it (it also runs at cleanup).
func (s *supervisor) startProcess(t testing.TB, bin, addr, logFile string) func() {
	t.Helper()
	proc, err := startProcess(bin, logFile, append([]string{"--https-address", addr}, s.args...)...)
	if err != nil {
		t.Fatal(err)
	}
	stop := proc.Stop
	s.proc = proc
	s.t.Cleanup(stop)
	client := s.clientVia(addr)
	eventually(t, 30*time.Second, "the supervisor answers /healthz", func() (bool, error) {
		resp, err := client.Get("https://" + s.addr + "/healthz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("status %d", resp.StatusCode)
	})
	return stop
}

// restart stops the supervisor and starts a new process with the same flags.
func (s *supervisor) restart(t *testing.T) {
	t.Helper()
	s.stop()
	s.logFile += ".restarted"
	s.stop = s.startProcess(t, supervisorBinary(t), s.addr, s.logFile)
}

// replica starts a second supervisor process on another port, sharing everything
// through the Kubernetes API, and returns a client that reaches it for the issuer URLs.
func (s *supervisor) replica(t *testing.T) *http.Client {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s.startProcess(t, supervisorBinary(t), addr, s.logFile+".replica")
	return s.clientVia(addr)
}

// clientVia is s.client with every connection dialled to addr, so that requests for the
// issuer's host reach one particular process.
func (s *supervisor) clientVia(addr string) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.caPEM)
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, addr)
			}}}
}

// serveDomain applies manifest (identity providers, FederationDomain fd1 at /fd1 and
// whatever else the test needs) and waits until /fd1 lists idps identity providers.
func (s *supervisor) serveDomain(t testing.TB, manifest string, idps int) {
	t.Helper()
	if err := applyYAML(testEnv.Management().Kubeconfig, manifest); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "FederationDomain /fd1 lists its identity providers", func() (bool, error) {
		var doc oidcprovider.IDPDiscovery
		err := s.getJSON(s.issuer("/fd1")+oidcprovider.PathIDPs, &doc)
		return err == nil && len(doc.IdentityProviders) == idps, fmt.Errorf("%d listed (%v)", len(doc.IdentityProviders), err)
	})
}

// dexDomain serves FederationDomain fd1 at /fd1 with the environment's Dex as its one
// identity provider, "dex", and applies the extra manifests too.
func (s *supervisor) dexDomain(t testing.TB, allowPassword bool, extra ...string) {
	t.Helper()
	docs := append([]string{dexIdPYAML(s.namespace, "dex", allowPassword), federationDomainYAML(s.namespace, "fd1", s.issuer("/fd1"), "dex")}, extra...)
	s.serveDomain(t, strings.Join(docs, "---\n"), 1)
}

// issuer is the URL of a FederationDomain on this supervisor.
func (s *supervisor) issuer(path string) string { return "https://" + s.addr + path }

// dexIdPYAML is an OIDCIdentityProvider trusting the environment's Dex, with its client Secret.
func dexIdPYAML(ns, name string, allowPassword bool) string {
	caPEM, err := os.ReadFile(testEnv.CABundle)
	if err != nil {
		panic(err)
	}
	return oidcIdPYAML(ns, name, testEnv.Dex.Issuer, testEnv.Dex.ClientID, testEnv.Dex.ClientSecret, caPEM, allowPassword)
}

// oidcIdPYAML is an OIDCIdentityProvider for a Dex, with its client Secret.
func oidcIdPYAML(ns, name, issuer, clientID, clientSecret string, caPEM []byte, allowPassword bool) string {
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
`, ns, name, clientID, clientSecret, issuer, base64.StdEncoding.EncodeToString(caPEM), allowPassword)
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
func createNamespace(t testing.TB, cluster int, prefix string) string {
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
