// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/selkie-dev/selkie/pkg/certauthority"
	"github.com/selkie-dev/selkie/pkg/concierge/impersonator"
)

// impersonationProxy is an impersonator.Proxy running in-process on loopback in front of
// the workload cluster's real API server, under a ServiceAccount that holds only what the
// contract implies: impersonation, TokenReviews, SubjectAccessReviews, and reading the
// client CA ConfigMap.
type impersonationProxy struct {
	url       string
	servingCA []byte
	signer    *certauthority.CA
	namespace string // fresh, deleted at cleanup
	admin     kubernetes.Interface
	adminCfg  *rest.Config
	logFile   string
	token     string // the proxy's ServiceAccount token
}

// startImpersonationProxy starts a proxy on testEnv.Clusters[1], logging at level to a
// file in testWork; tb.Cleanup stops it and removes what it created.
func startImpersonationProxy(tb testing.TB, level slog.Level) *impersonationProxy {
	tb.Helper()
	cl := testEnv.Clusters[1]
	adminCfg := adminConfig(tb, cl.Kubeconfig)
	p := &impersonationProxy{admin: kubernetes.NewForConfigOrDie(adminCfg), adminCfg: adminCfg}
	ctx := testContext(tb)
	ns, err := p.admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "impersonation-proxy-"}}, metav1.CreateOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	p.namespace = ns.Name
	tb.Cleanup(func() {
		_ = p.admin.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})
	token := p.createProxyAccount(tb, ctx)
	p.token = token
	p.token = token
	upstream := &rest.Config{Host: adminCfg.Host, TLSClientConfig: rest.TLSClientConfig{
		CAFile: adminCfg.CAFile, CAData: adminCfg.CAData, ServerName: adminCfg.ServerName}}
	asProxy := rest.CopyConfig(upstream)
	asProxy.BearerToken = token
	if p.signer, err = certauthority.New("impersonation-proxy-signer", 24*time.Hour); err != nil {
		tb.Fatal(err)
	}
	p.serve(tb, level, impersonator.Config{
		Upstream:   upstream,
		Kube:       kubernetes.NewForConfigOrDie(asProxy),
		ProxyToken: func(context.Context) (string, error) { return token, nil },
		SignerCA:   p.signer,
	})
	return p
}

// createProxyAccount creates the proxy's ServiceAccount with least privilege and returns a
// 24-hour TokenRequest token for it, once RBAC lets it review access.
func (p *impersonationProxy) createProxyAccount(tb testing.TB, ctx context.Context) string {
	tb.Helper()
	ns, name := p.namespace, "impersonation-proxy"
	if _, err := p.admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		tb.Fatal(err)
	}
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: ns}}
	p.grantCluster(tb, ctx, subject, []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"users", "groups", "serviceaccounts"}, Verbs: []string{"impersonate"}},
		// RBAC matches user extras by key (userextras/<key>); these are the keys the
		// proxy forwards here: the certificate fingerprint kube-apiserver's x509
		// authenticator adds, and the reserved original-user-info.
		{APIGroups: []string{"authentication.k8s.io"}, Verbs: []string{"impersonate"}, Resources: []string{
			"userextras/authentication.kubernetes.io/credential-id", "userextras/" + impersonator.OriginalUserInfoKey}},
		{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
		{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
	})
	if _, err := p.admin.RbacV1().RoleBindings("kube-system").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "impersonation-proxy-" + ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "extension-apiserver-authentication-reader"},
		Subjects:   subject,
	}, metav1.CreateOptions{}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = p.admin.RbacV1().RoleBindings("kube-system").Delete(context.Background(), "impersonation-proxy-"+ns, metav1.DeleteOptions{})
	})
	token := p.serviceAccountToken(tb, ctx, name, 24*time.Hour)
	asProxy := rest.AnonymousClientConfig(p.adminCfg)
	asProxy.BearerToken = token
	kube := kubernetes.NewForConfigOrDie(asProxy)
	eventually(tb, 15*time.Second, "the proxy's RBAC applies", func() (bool, error) {
		review, err := kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Group: "authorization.k8s.io", Resource: "subjectaccessreviews", Verb: "create"}},
		}, metav1.CreateOptions{})
		return err == nil && review.Status.Allowed, err
	})
	return token
}

// grantCluster binds a new ClusterRole with rules to subjects, both removed at cleanup.
func (p *impersonationProxy) grantCluster(tb testing.TB, ctx context.Context, subjects []rbacv1.Subject, rules []rbacv1.PolicyRule) {
	tb.Helper()
	role, err := p.admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{GenerateName: p.namespace + "-"}, Rules: rules}, metav1.CreateOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role.Name}, Subjects: subjects,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name}}
	if _, err := p.admin.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = p.admin.RbacV1().ClusterRoleBindings().Delete(context.Background(), role.Name, metav1.DeleteOptions{})
		_ = p.admin.RbacV1().ClusterRoles().Delete(context.Background(), role.Name, metav1.DeleteOptions{})
	})
}

// serviceAccountToken returns a TokenRequest token for a ServiceAccount in the namespace.
func (p *impersonationProxy) serviceAccountToken(tb testing.TB, ctx context.Context, name string, ttl time.Duration) string {
	tb.Helper()
	seconds := int64(ttl.Seconds())
	tr, err := p.admin.CoreV1().ServiceAccounts(p.namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds}}, metav1.CreateOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return tr.Status.Token
}

// serve builds the proxy and serves it on a loopback port until cleanup.
func (p *impersonationProxy) serve(tb testing.TB, level slog.Level, cfg impersonator.Config) {
	tb.Helper()
	p.logFile = filepath.Join(testWork, p.namespace+".log")
	logf, err := os.Create(p.logFile)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Log = slog.New(slog.NewJSONHandler(logf, &slog.HandlerOptions{Level: level}))
	ctx, cancel := context.WithCancel(context.Background())
	proxy, err := impersonator.New(ctx, cfg)
	if err != nil {
		cancel()
		tb.Fatalf("start the impersonation proxy: %v", err)
	}
	servingCA, err := certauthority.New("impersonation-proxy-serving-ca", 24*time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	kp, err := servingCA.IssueServingCert([]string{"127.0.0.1"}, 24*time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- proxy.Serve(ctx, l, kp.CertPEM, kp.KeyPEM) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("impersonation proxy: %v", err)
		}
		logf.Close()
	})
	p.url, p.servingCA = "https://"+l.Addr().String(), servingCA.CertPEM()
}

// kubeconfig writes a kubeconfig for the proxy with kp as the user's certificate (nil:
// no credentials) and returns its path.
func (p *impersonationProxy) kubeconfig(tb testing.TB, kp *certauthority.KeyPair) string {
	tb.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["proxy"] = &clientcmdapi.Cluster{Server: p.url, CertificateAuthorityData: p.servingCA}
	cfg.AuthInfos["user"] = &clientcmdapi.AuthInfo{}
	if kp != nil {
		cfg.AuthInfos["user"] = &clientcmdapi.AuthInfo{ClientCertificateData: kp.CertPEM, ClientKeyData: kp.KeyPEM}
	}
	cfg.Contexts["proxy"] = &clientcmdapi.Context{Cluster: "proxy", AuthInfo: "user", Namespace: p.namespace}
	cfg.CurrentContext = "proxy"
	path := filepath.Join(tb.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		tb.Fatal(err)
	}
	return path
}

// restConfig is kubeconfig as a client-go configuration.
func (p *impersonationProxy) restConfig(kp *certauthority.KeyPair) *rest.Config {
	return &rest.Config{Host: p.url, TLSClientConfig: rest.TLSClientConfig{CAData: p.servingCA, CertData: kp.CertPEM, KeyData: kp.KeyPEM}}
}

// grantProxyDevs lets group proxy-devs list namespaces and edit the test namespace.
func (p *impersonationProxy) grantProxyDevs(tb testing.TB, ctx context.Context) {
	tb.Helper()
	devs := []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "proxy-devs"}}
	p.grantCluster(tb, ctx, devs, []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list"}}})
	if _, err := p.admin.RbacV1().RoleBindings(p.namespace).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "proxy-devs-edit"}, Subjects: devs,
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"},
	}, metav1.CreateOptions{}); err != nil {
		tb.Fatal(err)
	}
}

// whoami runs `kubectl auth whoami` and returns the user the API server saw.
func whoami(t *testing.T, kubeconfig string, args ...string) (authenticationv1.UserInfo, error) {
	t.Helper()
	out, errOut, err := kubectlWith(t, kubeconfig, append([]string{"auth", "whoami", "-o", "json"}, args...)...)
	if err != nil {
		return authenticationv1.UserInfo{}, fmt.Errorf("%w: %s", err, errOut)
	}
	var review authenticationv1.SelfSubjectReview
	if err := json.Unmarshal([]byte(out), &review); err != nil {
		return authenticationv1.UserInfo{}, err
	}
	return review.Status.UserInfo, nil
}

// TestImpersonationProxy drives the proxy with the real kubectl against the workload
// cluster's real API server.
func TestImpersonationProxy(t *testing.T) {
	t.Parallel()
	p := startImpersonationProxy(t, slog.LevelDebug)
	ctx := testContext(t)
	user := issueCert(t, p.signer, "proxy-user", "proxy-devs")
	kubeconfig := p.kubeconfig(t, user)

	_, errOut, err := kubectlWith(t, kubeconfig, "get", "namespaces")
	if err == nil || !strings.Contains(errOut, "Forbidden") || !strings.Contains(errOut, "decision made by impersonation-proxy.concierge.selkie.dev") {
		t.Fatalf("before RBAC, get namespaces: %v %s; want Forbidden by the proxy\nproxy log: %s", err, errOut, p.logFile)
	}
	p.grantProxyDevs(t, ctx)
	eventually(t, 30*time.Second, "RBAC for group proxy-devs applies through the proxy", func() (bool, error) {
		out, errOut, err := kubectlWith(t, kubeconfig, "get", "namespaces", "-o", "name")
		return err == nil && strings.Contains(out, "namespace/"+p.namespace), errors.New(errOut)
	})

	t.Run("who the API server sees", func(t *testing.T) { testProxyWhoami(t, p, kubeconfig) })
	t.Run("ConfigMap create get update delete", func(t *testing.T) { testProxyConfigMapCRUD(t, p, kubeconfig) })
	t.Run("watch streams events", func(t *testing.T) { testProxyWatch(t, p, kubeconfig) })
	t.Run("nested impersonation", func(t *testing.T) { testProxyNestedImpersonation(t, p, kubeconfig) })
	t.Run("forged Impersonate-User header", func(t *testing.T) { testProxyForgedHeader(t, p, user) })
	t.Run("ServiceAccount token passes through", func(t *testing.T) { testProxyServiceAccountToken(t, p) })
	t.Run("certificate from the cluster CA", func(t *testing.T) { testProxyClusterCACert(t, p) })
}

func issueCert(tb testing.TB, ca *certauthority.CA, name string, groups ...string) *certauthority.KeyPair {
	tb.Helper()
	kp, err := ca.IssueClientCert(name, groups, certauthority.DefaultTTL)
	if err != nil {
		tb.Fatal(err)
	}
	return kp
}

func testProxyWhoami(t *testing.T, p *impersonationProxy, kubeconfig string) {
	got, err := whoami(t, kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if got.Username != "proxy-user" || !slices.Equal(got.Groups, []string{"proxy-devs", "system:authenticated"}) || got.UID != "" {
		t.Errorf("API server saw %+v, want proxy-user in proxy-devs", got)
	}
	if _, ok := got.Extra["authentication.kubernetes.io/credential-id"]; !ok {
		t.Errorf("API server saw extras %v, want the certificate's credential-id", got.Extra)
	}
}

func testProxyConfigMapCRUD(t *testing.T, p *impersonationProxy, kubeconfig string) {
	run := func(args ...string) string {
		t.Helper()
		out, errOut, err := kubectlWith(t, kubeconfig, args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, errOut)
		}
		return out
	}
	run("create", "configmap", "crud", "--from-literal=color=blue")
	if got := run("get", "configmap", "crud", "-o", "jsonpath={.data.color}"); got != "blue" {
		t.Errorf("after create, color = %q, want blue", got)
	}
	manifest := filepath.Join(t.TempDir(), "cm.yaml")
	yaml := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: crud, namespace: %s}\ndata: {color: green}\n", p.namespace)
	if err := os.WriteFile(manifest, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	run("replace", "-f", manifest)
	if got := run("get", "configmap", "crud", "-o", "jsonpath={.data.color}"); got != "green" {
		t.Errorf("after replace, color = %q, want green", got)
	}
	run("delete", "configmap", "crud")
	if _, errOut, err := kubectlWith(t, kubeconfig, "get", "configmap", "crud"); err == nil || !strings.Contains(errOut, "NotFound") {
		t.Errorf("after delete, get: %v %s; want NotFound", err, errOut)
	}
}

// testProxyWatch starts `kubectl get -w` through the proxy and expects an event for a
// ConfigMap created after the watch began.
func testProxyWatch(t *testing.T, p *impersonationProxy, kubeconfig string) {
	ctx, cancel := context.WithTimeout(testContext(t), time.Minute)
	defer cancel()
	if _, err := p.admin.CoreV1().ConfigMaps(p.namespace).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "watch-before"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, testEnv.Kubectl, "--kubeconfig", kubeconfig, "get", "configmaps", "-w", "-o", "name")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		for s := bufio.NewScanner(stdout); s.Scan(); {
			lines <- s.Text()
		}
	}()
	waitLine := func(want string) {
		t.Helper()
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("watch ended before %q: %s", want, stderr.String())
				}
				if line == want {
					return
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("no %q from the watch within 30s: %s", want, stderr.String())
			}
		}
	}
	waitLine("configmap/watch-before") // the list is done; the watch follows from its resourceVersion
	if _, err := p.admin.CoreV1().ConfigMaps(p.namespace).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "watch-after"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitLine("configmap/watch-after")
}

func testProxyNestedImpersonation(t *testing.T, p *impersonationProxy, kubeconfig string) {
	_, errOut, err := kubectlWith(t, kubeconfig, "get", "namespaces", "--as=someone")
	if err == nil || !strings.Contains(errOut, `cannot impersonate resource "users"`) {
		t.Fatalf("--as=someone without permission: %v %s; want Forbidden", err, errOut)
	}
	devs := []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "proxy-devs"}}
	p.grantCluster(t, testContext(t), devs, []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"users"}, ResourceNames: []string{"someone"}, Verbs: []string{"impersonate"}}})
	var got authenticationv1.UserInfo
	eventually(t, 30*time.Second, "proxy-devs may impersonate someone", func() (bool, error) {
		got, err = whoami(t, kubeconfig, "--as=someone")
		return err == nil, err
	})
	if got.Username != "someone" || !slices.Equal(got.Groups, []string{"system:authenticated"}) {
		t.Errorf("API server saw %+v, want someone", got)
	}
	var orig authenticationv1.UserInfo
	if values := got.Extra[impersonator.OriginalUserInfoKey]; len(values) != 1 || json.Unmarshal([]byte(values[0]), &orig) != nil {
		t.Fatalf("extra %s = %v, want one JSON UserInfo", impersonator.OriginalUserInfoKey, values)
	}
	if orig.Username != "proxy-user" || !slices.Equal(orig.Groups, []string{"proxy-devs", "system:authenticated"}) {
		t.Errorf("original user %+v, want proxy-user in proxy-devs", orig)
	}
}

// testProxyForgedHeader sends raw requests naming admin in Impersonate-User: with the
// user's certificate it is nested impersonation the user may not do; without it, nobody.
func testProxyForgedHeader(t *testing.T, p *impersonationProxy, user *certauthority.KeyPair) {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(p.servingCA)
	cert, err := tls.X509KeyPair(user.CertPEM, user.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		certs []tls.Certificate
	}{{"with the user's certificate", []tls.Certificate{cert}}, {"without credentials", nil}} {
		client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: tc.certs, MinVersion: tls.VersionTLS12}}}
		req, err := http.NewRequestWithContext(testContext(t), http.MethodGet, p.url+"/api/v1/namespaces/kube-system/secrets", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Impersonate-User", "admin")
		req.Header.Add("Impersonate-Group", "system:masters")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: got %s %s, want 401 or 403", tc.name, resp.Status, body)
		}
	}
}

func testProxyServiceAccountToken(t *testing.T, p *impersonationProxy) {
	ctx := testContext(t)
	if _, err := p.admin.CoreV1().ServiceAccounts(p.namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "passthrough"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token := p.serviceAccountToken(t, ctx, "passthrough", time.Hour)
	got, err := whoami(t, p.kubeconfig(t, nil), "--token="+token)
	if err != nil {
		t.Fatal(err)
	}
	if want := "system:serviceaccount:" + p.namespace + ":passthrough"; got.Username != want || got.UID == "" {
		t.Errorf("API server saw %+v, want %s with its UID", got, want)
	}
	if _, ok := got.Extra[impersonator.OriginalUserInfoKey]; ok {
		t.Errorf("a passed-through token was impersonated: %+v", got)
	}
}

func testProxyClusterCACert(t *testing.T, p *impersonationProxy) {
	ca := loadClusterCA(t)
	got, err := whoami(t, p.kubeconfig(t, issueCert(t, ca, "cluster-ca-user", "proxy-devs")))
	if err != nil {
		t.Fatal(err)
	}
	if got.Username != "cluster-ca-user" {
		t.Errorf("API server saw %+v, want cluster-ca-user", got)
	}
}

// loadClusterCA is the workload cluster's client CA, which kube-apiserver trusts too.
func loadClusterCA(tb testing.TB) *certauthority.CA {
	tb.Helper()
	cl := testEnv.Clusters[1]
	certPEM, err := os.ReadFile(cl.ClusterCACert)
	if err != nil {
		tb.Fatal(err)
	}
	keyPEM, err := os.ReadFile(cl.ClusterCAKey)
	if err != nil {
		tb.Fatal(err)
	}
	ca, err := certauthority.Load(certPEM, keyPEM)
	if err != nil {
		tb.Fatal(err)
	}
	return ca
}

// BenchmarkProxyGetList compares the median latency of a ConfigMap GET, and of a LIST of
// the 20 ConfigMaps in one namespace, through the proxy with the same requests sent
// directly to the same API server, in the same run, with the same client certificate
// (from the cluster CA, trusted by both) and so the same RBAC. For context it also reports
// what the proxy itself sends (its token and Impersonate-* headers, straight to the API
// server) and a bare httputil.ReverseProxy hop over HTTP/2 with that request: the floor
// for any HTTP/2 proxy on this machine. The proxy logs at info, as in production.
func BenchmarkProxyGetList(b *testing.B) {
	p := startImpersonationProxy(b, slog.LevelInfo)
	ctx := testContext(b)
	p.grantProxyDevs(b, ctx)
	for i := range 20 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%02d", i), Labels: map[string]string{"app": "bench"}},
			Data: map[string]string{"k": strings.Repeat("v", 512)}}
		if _, err := p.admin.CoreV1().ConfigMaps(p.namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	cert := issueCert(b, loadClusterCA(b), "bench-user", "proxy-devs")
	direct := rest.AnonymousClientConfig(p.adminCfg)
	direct.CertData, direct.KeyData = cert.CertPEM, cert.KeyPEM
	upstream := rest.AnonymousClientConfig(p.adminCfg)
	upstream.BearerToken = p.token
	upstream.Impersonate = rest.ImpersonationConfig{UserName: "bench-user", Groups: []string{"proxy-devs", "system:authenticated"},
		Extra: map[string][]string{"authentication.kubernetes.io/credential-id": {"X509SHA256=bench"}}}
	bare := &rest.Config{Host: startBareHop(b, upstream), TLSClientConfig: rest.TLSClientConfig{Insecure: true}}
	targets := []struct {
		name string
		cfg  *rest.Config
	}{{"direct", direct}, {"proxy", p.restConfig(issueCert(b, p.signer, "bench-user", "proxy-devs"))},
		{"upstream", upstream}, {"bare-hop", bare}, {"proxy-cluster-ca", p.restConfig(cert)}}
	clients := make([]kubernetes.Interface, len(targets))
	for i, t := range targets {
		t.cfg.QPS = -1 // no client-side rate limiting: measure the servers
		clients[i] = kubernetes.NewForConfigOrDie(t.cfg)
	}
	ops := configMapOps(ctx, p.namespace)
	timed := func(op, target int) time.Duration {
		start := time.Now()
		if err := ops[op].do(clients[target]); err != nil {
			b.Fatalf("%s %s: %v", targets[target].name, ops[op].name, err)
		}
		return time.Since(start)
	}
	eventually(b, 30*time.Second, "RBAC for the benchmark user applies", func() (bool, error) {
		err := ops[1].do(clients[1])
		return err == nil, err
	})
	for range 50 { // warm connections and every cache on every path
		for op := range ops {
			for i := range targets {
				timed(op, i)
			}
		}
	}
	samples := make([][][]time.Duration, len(ops))
	for op := range ops {
		samples[op] = make([][]time.Duration, len(targets))
	}
	for range proxySamples { // interleaved, so that every path sees the same machine load
		for op := range ops {
			for i := range targets {
				samples[op][i] = append(samples[op][i], timed(op, i))
			}
		}
	}
	for op, o := range ops {
		for i, t := range targets {
			b.ReportMetric(float64(median(samples[op][i]).Microseconds()), o.name+"-"+t.name+"-µs")
		}
		direct := float64(median(samples[op][0]))
		b.ReportMetric(float64(median(samples[op][1]))/direct, o.name+"-proxy/direct")
		b.ReportMetric(float64(median(samples[op][3]))/direct, o.name+"-bare-hop/direct")
	}
}

// startBareHop is an httputil.ReverseProxy over HTTP/2 that sends every request as up
// (its token, Impersonate-* headers) and nothing else.
func startBareHop(b *testing.B, up *rest.Config) string {
	b.Helper()
	rt, err := rest.TransportFor(up)
	if err != nil {
		b.Fatal(err)
	}
	target, err := url.Parse(up.Host)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) }, Transport: rt})
	srv.EnableHTTP2 = true
	srv.StartTLS()
	b.Cleanup(srv.Close)
	return srv.URL
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
