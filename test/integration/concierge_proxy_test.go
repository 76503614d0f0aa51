// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	conciergeclient "github.com/selkie-dev/selkie/generated/client/concierge/clientset/versioned"
	conciergeconfigclient "github.com/selkie-dev/selkie/generated/client/concierge/clientset/versioned/typed/config/v1alpha1"
	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
	"github.com/selkie-dev/selkie/test/env"
)

// TestConciergeProxyStrategy runs a concierge with no signing key and no CSR signing on a
// control plane of its own, so that the impersonation proxy is its only strategy: the
// CredentialIssuer advertises the proxy, TokenCredentialRequests return certificates of
// the proxy's signer CA, which only the proxy trusts, and kubectl works through the proxy.
func TestConciergeProxyStrategy(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	bins, err := env.FindBinaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Anonymous requests are restricted to the health checks and logins, as on hardened
	// clusters: the proxy must not grant anonymous clients more than that.
	cp, err := env.StartControlPlaneWith(ctx, bins, t.TempDir(), "proxy", env.ControlPlaneOptions{
		AnonymousPaths: []string{"/healthz", "/livez", "/readyz", "/apis/login.concierge.selkie.dev/v1alpha1/tokencredentialrequests"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Close)
	kubeconfig := cp.AdminKubeconfig
	if err := applyCRDs(t, kubeconfig); err != nil {
		t.Fatal(err)
	}
	admin := kubernetes.NewForConfigOrDie(adminConfig(t, kubeconfig))
	port, proxyPort := freePort(t), freePort(t)
	install := strings.SplitN(conciergeInstallYAML(port), "---\napiVersion: apiregistration.k8s.io/v1", 2)
	if err := applyYAML(kubeconfig, install[0]); err != nil {
		t.Fatal(err)
	}
	grantProxyAccount(t, ctx, admin, "selkie-concierge-impersonation-proxy")
	cis := conciergeclient.NewForConfigOrDie(adminConfig(t, kubeconfig)).ConfigV1alpha1().CredentialIssuers()
	endpoint := "127.0.0.1:" + strconv.Itoa(proxyPort)
	if _, err := cis.Create(ctx, &configv1alpha1.CredentialIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: "selkie-concierge-config"},
		Spec: configv1alpha1.CredentialIssuerSpec{ImpersonationProxy: &configv1alpha1.ImpersonationProxySpec{
			Mode:             configv1alpha1.ImpersonationProxyModeEnabled,
			Service:          configv1alpha1.ImpersonationProxyServiceSpec{Type: configv1alpha1.ImpersonationProxyServiceTypeNone},
			ExternalEndpoint: endpoint,
		}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	logFile := filepath.Join(t.TempDir(), "concierge-proxy.log")
	metricsAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	proc, err := startProcess(selkieBins.concierge, logFile, "serve",
		"--kubeconfig", kubeconfig, "--namespace", conciergeNamespace, "--bind-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(port), "--impersonation-proxy-port", strconv.Itoa(proxyPort),
		"--csr-signing=false", "--log-level", "debug", "--metrics-address", metricsAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proc.Stop)
	dumpLog := func() string { data, _ := os.ReadFile(logFile); return string(data) }
	if err := waitHealthy(ctx, port); err != nil {
		t.Fatalf("concierge did not answer /healthz: %v\n%s", err, dumpLog())
	}
	if err := applyYAML(kubeconfig, "apiVersion: apiregistration.k8s.io/v1"+install[1]); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"v1alpha1.login.concierge.selkie.dev", "v1alpha1.identity.concierge.selkie.dev"} {
		if out, err := exec.CommandContext(ctx, testEnv.Kubectl, "--kubeconfig", kubeconfig, "wait", "--for=condition=Available",
			"--timeout=60s", "apiservice/"+name).CombinedOutput(); err != nil {
			t.Fatalf("APIService %s not Available: %v\n%s\n%s", name, err, out, dumpLog())
		}
	}

	info := advertisedProxy(t, ctx, cis)
	if info.Endpoint != "https://"+endpoint {
		t.Errorf("endpoint %q, want %q", info.Endpoint, "https://"+endpoint)
	}
	servingCA, err := base64.StdEncoding.DecodeString(info.CertificateAuthorityData)
	if err != nil || len(servingCA) == 0 {
		t.Fatalf("certificateAuthorityData %q: %v", info.CertificateAuthorityData, err)
	}

	name := createJWTAuthenticatorIn(t, kubeconfig, testEnv.Dex.ClientID)
	user, _ := testEnv.User("pinny")
	base := adminConfig(t, kubeconfig)
	anon := conciergeclient.NewForConfigOrDie(&rest.Config{Host: base.Host, TLSClientConfig: rest.TLSClientConfig{CAData: base.CAData}})
	resp, err := anon.LoginV1alpha1().TokenCredentialRequests().Create(ctx, newTCR(dexIDToken(t, user), "JWTAuthenticator", name), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenCredentialRequest: %v", err)
	}
	if resp.Status.Credential == nil {
		t.Fatalf("login failed: %s\n%s", deref(resp.Status.Message), dumpLog())
	}
	cred := resp.Status.Credential
	signer, err := admin.CoreV1().Secrets(conciergeNamespace).Get(ctx, "selkie-concierge-impersonation-proxy-signer", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(signer.Data["ca.crt"])
	cert := parseCert(t, cred.ClientCertificateData)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("certificate not signed by the proxy signer CA: %v", err)
	}
	if cert.Subject.CommonName != user.Email {
		t.Errorf("certificate for %q, want %q", cert.Subject.CommonName, user.Email)
	}

	direct := kubernetes.NewForConfigOrDie(&rest.Config{Host: base.Host, TLSClientConfig: rest.TLSClientConfig{
		CAData: base.CAData, CertData: []byte(cred.ClientCertificateData), KeyData: []byte(cred.ClientKeyData)}})
	if _, err := direct.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
		t.Errorf("the API server itself answered %v to the proxy certificate, want 401", err)
	}

	proxyKubeconfig := writeKubeconfig(t, info.Endpoint, servingCA, []byte(cred.ClientCertificateData), []byte(cred.ClientKeyData))
	if _, errOut, err := kubectlWith(t, proxyKubeconfig, "get", "ns"); err == nil || !strings.Contains(errOut, "Forbidden") {
		t.Errorf("kubectl get ns before the grant: %v %s, want Forbidden", err, errOut)
	}
	bindGroupNamespaceReader(t, ctx, admin, user.Groups[0])
	eventually(t, 30*time.Second, "kubectl get ns through the proxy", func() (bool, error) {
		out, errOut, err := kubectlWith(t, proxyKubeconfig, "get", "ns")
		return err == nil && strings.Contains(out, "kube-system"), fmt.Errorf("%v: %s", err, errOut)
	})
	got, err := whoami(t, proxyKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if got.Username != user.Email {
		t.Errorf("whoami through the proxy: %q, want %q", got.Username, user.Email)
	}
	t.Run("metrics", func(t *testing.T) {
		conciergeMetrics(t, ctx, kubeconfig, metricsAddr, anon.LoginV1alpha1().TokenCredentialRequests(), name, dexIDToken(t, user),
			kubernetes.NewForConfigOrDie(&rest.Config{Host: info.Endpoint, TLSClientConfig: rest.TLSClientConfig{
				CAData: servingCA, CertData: []byte(cred.ClientCertificateData), KeyData: []byte(cred.ClientKeyData)}}))
	})
	t.Run("anonymous requests get what the API server gives them", func(t *testing.T) {
		proxyAnonymous(t, ctx, base, info.Endpoint, servingCA, dexIDToken(t, user), name)
	})
	t.Run("abuse: random bearer tokens", func(t *testing.T) {
		abuseProxyWithRandomTokens(t, info.Endpoint, servingCA, proxyKubeconfig, admin)
	})
}

// advertisedProxy waits until the CredentialIssuer reports the impersonation proxy
// listening and returns where and with which CA.
func advertisedProxy(t testing.TB, ctx context.Context, cis conciergeconfigclient.CredentialIssuerInterface) *configv1alpha1.ImpersonationProxyInfo {
	t.Helper()
	var info *configv1alpha1.ImpersonationProxyInfo
	eventually(t, 60*time.Second, "the CredentialIssuer advertises the proxy", func() (bool, error) {
		ci, err := cis.Get(ctx, "selkie-concierge-config", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, s := range ci.Status.Strategies {
			if s.Type == configv1alpha1.ImpersonationProxyStrategyType && s.Status == configv1alpha1.SuccessStrategyStatus &&
				s.Reason == configv1alpha1.ListeningStrategyReason && s.Frontend != nil && s.Frontend.ImpersonationProxyInfo != nil {
				info = s.Frontend.ImpersonationProxyInfo
				return true, nil
			}
		}
		return false, fmt.Errorf("strategies %+v", ci.Status.Strategies)
	})
	return info
}

// benchOp is one request a proxy benchmark times.
type benchOp struct {
	name string
	do   func(kubernetes.Interface) error
}

// configMapOps are the proxy benchmarks' two requests: get one ConfigMap of ns, and list
// the 20 labelled app=bench.
func configMapOps(ctx context.Context, ns string) []benchOp {
	return []benchOp{
		{"get", func(c kubernetes.Interface) error {
			_, err := c.CoreV1().ConfigMaps(ns).Get(ctx, "bench-00", metav1.GetOptions{})
			return err
		}},
		{"list", func(c kubernetes.Interface) error {
			l, err := c.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=bench"})
			if err == nil && len(l.Items) != 20 {
				err = fmt.Errorf("listed %d ConfigMaps, want 20", len(l.Items))
			}
			return err
		}},
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// grantProxyAccount creates the proxy's ServiceAccount with the RBAC it needs: impersonate
// users, groups, serviceaccounts and user extras, review tokens and access, and read the
// API server's client CA.
func grantProxyAccount(t testing.TB, ctx context.Context, admin kubernetes.Interface, name string) {
	t.Helper()
	if _, err := admin.CoreV1().ServiceAccounts(conciergeNamespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	subjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: conciergeNamespace}}
	if _, err := admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"users", "groups", "serviceaccounts"}, Verbs: []string{"impersonate"}},
		{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"*"}, Verbs: []string{"impersonate"}},
		{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
		{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
	}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: subjects,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().RoleBindings("kube-system").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: subjects,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "extension-apiserver-authentication-reader"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// bindGroupNamespaceReader lets group list namespaces.
func bindGroupNamespaceReader(t testing.TB, ctx context.Context, admin kubernetes.Interface, group string) {
	t.Helper()
	name := "ns-reader"
	if _, err := admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: group}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// writeKubeconfig writes a kubeconfig for server with a client certificate.
func writeKubeconfig(t testing.TB, server string, caPEM, certPEM, keyPEM []byte) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{ClientCertificateData: certPEM, ClientKeyData: keyPEM}
	cfg.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "c"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// proxyAnonymous sends anonymous requests to the API server and through the proxy: both
// must answer alike, where the API server allows anonymous requests (health, logins) and
// where it does not (401, although RBAC lets system:unauthenticated read /version).
func proxyAnonymous(t *testing.T, ctx context.Context, base *rest.Config, proxyURL string, proxyCA []byte, idToken, authenticator string) {
	directPool, proxyPool := x509.NewCertPool(), x509.NewCertPool()
	directPool.AppendCertsFromPEM(base.CAData)
	proxyPool.AppendCertsFromPEM(proxyCA)
	clients := map[string]struct {
		url    string
		client *http.Client
	}{
		"the API server": {strings.TrimSuffix(base.Host, "/"), &http.Client{Timeout: 30 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: directPool, MinVersion: tls.VersionTLS12}}}},
		"the proxy": {proxyURL, &http.Client{Timeout: 30 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: proxyPool, MinVersion: tls.VersionTLS12}}}},
	}
	tcr, err := json.Marshal(tcrBody(idToken, authenticator))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method, path string
		body         []byte
		want         int
	}{
		{http.MethodGet, "/healthz", nil, http.StatusOK},
		{http.MethodGet, "/version", nil, http.StatusUnauthorized},
		{http.MethodGet, "/api/v1/namespaces", nil, http.StatusUnauthorized},
		{http.MethodPost, "/apis/login.concierge.selkie.dev/v1alpha1/tokencredentialrequests", tcr, http.StatusCreated},
	} {
		for who, target := range clients {
			req, err := http.NewRequestWithContext(ctx, c.method, target.url+c.path, bytes.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := target.client.Do(req)
			if err != nil {
				t.Errorf("%s %s at %s: %v", c.method, c.path, who, err)
				continue
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("anonymous %s %s at %s: %d %s, want %d", c.method, c.path, who, resp.StatusCode, body, c.want)
			}
		}
	}
}
