//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	conciergeclient "github.com/selkie-dev/selkie/generated/client/concierge/clientset/versioned"
	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
	"github.com/selkie-dev/selkie/test/env"
)

// TestCLIGetKubeconfigThroughConcierge generates a kubeconfig from workload cluster 1's
// admin kubeconfig by autodiscovery alone (the shared concierge's
// KubeClusterSigningCertificate strategy, the JWTAuthenticator trusting the supervisor,
// the supervisor's one IdP, Dex), then kubectl logs in with it by password.
func TestCLIGetKubeconfigThroughConcierge(t *testing.T) {
	f := newLoginFixture(t)
	cl := testEnv.Clusters[f.cluster]
	dir := t.TempDir()
	args := []string{"--kubeconfig", cl.Kubeconfig, "--concierge-api-group-suffix", "selkie.dev",
		"--concierge-credential-issuer", "selkie-concierge-config"}
	args = append(args, authenticatorFlagsIfAmbiguous(t, cl.Kubeconfig, f.authenticator)...)
	kubeconfig, execArgs := getKubeconfig(t, dir, args...)

	caData := base64.StdEncoding.EncodeToString(sourceClusterCA(t, cl.Kubeconfig))
	want := []string{"login", "oidc", "--enable-concierge", "--concierge-api-group-suffix=selkie.dev",
		"--concierge-authenticator-name=" + f.authenticator, "--concierge-authenticator-type=jwt",
		"--concierge-endpoint=" + cl.APIURL, "--concierge-ca-bundle-data=" + caData,
		"--credential-cache=" + filepath.Join(dir, "credentials.yaml"), "--issuer=" + f.s.issuer("/fd1"), "--client-id=pinniped-cli",
		"--scopes=offline_access,openid,pinniped:request-audience,username,groups",
		"--ca-bundle-data=" + base64.StdEncoding.EncodeToString(f.s.caPEM), "--session-cache=" + filepath.Join(dir, "sessions.yaml"),
		"--request-audience=" + f.audience, "--upstream-identity-provider-name=dex", "--upstream-identity-provider-type=oidc",
		"--upstream-identity-provider-flow=cli_password"}
	if !slices.Equal(want, execArgs) {
		t.Errorf("exec args\n got %q\nwant %q", execArgs, want)
	}
	loginAndWhoami(t, kubeconfig)
	t.Run("browser login", func(t *testing.T) {
		browserConfig, _ := getKubeconfig(t, t.TempDir(), append(args, "--upstream-identity-provider-flow", "browser_authcode", "--oidc-skip-browser")...)
		browserKubectl(t, f.s, browserConfig)
	})
}

// TestCLIGetKubeconfigThroughImpersonationProxy does the same against a control plane
// of its own whose concierge has no signing key: the kubeconfig points at the
// impersonation proxy the CredentialIssuer advertises, with the proxy's CA.
func TestCLIGetKubeconfigThroughImpersonationProxy(t *testing.T) {
	f := newLoginFixture(t)
	kubeconfig, proxyEndpoint := startProxyConcierge(t)
	ctx := testContext(t)
	audience := fmt.Sprintf("proxy-cluster-%d", time.Now().UnixNano())
	authenticator := createSupervisorJWTAuthenticatorIn(t, kubeconfig, f.s.issuer("/fd1"), audience, f.s.caPEM)
	bindGroupNamespaceReader(t, ctx, kubernetes.NewForConfigOrDie(adminConfig(t, kubeconfig)), "seals")

	dir := t.TempDir()
	generated, execArgs := getKubeconfig(t, dir, "--kubeconfig", kubeconfig, "--concierge-api-group-suffix", "selkie.dev",
		"--concierge-mode", "ImpersonationProxy")
	cfg, err := clientcmd.LoadFromFile(generated)
	if err != nil {
		t.Fatal(err)
	}
	cluster := currentCluster(t, cfg)
	if cluster.Server != proxyEndpoint.Endpoint || base64.StdEncoding.EncodeToString(cluster.CertificateAuthorityData) != proxyEndpoint.CertificateAuthorityData {
		t.Errorf("cluster %q, want the impersonation proxy %q with its CA", cluster.Server, proxyEndpoint.Endpoint)
	}
	for _, want := range []string{"--concierge-endpoint=" + proxyEndpoint.Endpoint, "--concierge-authenticator-name=" + authenticator,
		"--concierge-ca-bundle-data=" + proxyEndpoint.CertificateAuthorityData, "--request-audience=" + audience} {
		if !slices.Contains(execArgs, want) {
			t.Errorf("exec args lack %q", want)
		}
	}
	loginAndWhoami(t, generated)
	t.Run("browser login", func(t *testing.T) {
		browserConfig, _ := getKubeconfig(t, t.TempDir(), "--kubeconfig", kubeconfig, "--concierge-api-group-suffix", "selkie.dev",
			"--concierge-mode", "ImpersonationProxy", "--upstream-identity-provider-flow", "browser_authcode", "--oidc-skip-browser")
		browserKubectl(t, f.s, browserConfig)
	})
}

// getKubeconfig runs `selkie get kubeconfig` with caches in dir and the password flow,
// writes the result to dir/kubeconfig and returns it with its exec arguments.
func getKubeconfig(t *testing.T, dir string, args ...string) (string, []string) {
	t.Helper()
	path := filepath.Join(dir, "kubeconfig")
	args = append([]string{"get", "kubeconfig", "--oidc-session-cache", filepath.Join(dir, "sessions.yaml"),
		"--credential-cache", filepath.Join(dir, "credentials.yaml"), "--upstream-identity-provider-flow", "cli_password",
		"--timeout", "2m", "-o", path}, args...)
	start := time.Now()
	_, errOut, err := runWithEnv(t, nil, cliBinary(t), args...)
	if err != nil {
		t.Fatalf("selkie %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	t.Logf("get kubeconfig took %s; its log:\n%s", time.Since(start).Round(time.Millisecond), errOut)
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	user := cfg.AuthInfos[cfg.Contexts[cfg.CurrentContext].AuthInfo]
	if user == nil || user.Exec == nil {
		t.Fatalf("no exec user in %s", path)
	}
	ex := user.Exec
	if ex.Command != cliBinary(t) || ex.APIVersion != "client.authentication.k8s.io/v1beta1" || !ex.ProvideClusterInfo ||
		ex.Env == nil || len(ex.Env) != 0 || ex.InstallHint == "" {
		t.Errorf("exec %+v: want the CLI's own path, v1beta1, env [], an install hint, provideClusterInfo", ex)
	}
	t.Logf("exec args (CA data elided): %s", strings.Join(elideCAData(ex.Args), " "))
	assertNoSecrets(t, path)
	return path, ex.Args
}

// loginAndWhoami runs kubectl and whoami with the kubeconfig as testEnv.Users[0].
func loginAndWhoami(t *testing.T, kubeconfig string) {
	t.Helper()
	pinny := testEnv.Users[0]
	creds := []string{"PINNIPED_USERNAME=" + pinny.Email, "PINNIPED_PASSWORD=" + pinny.Password}
	out, errOut, err := runWithEnv(t, creds, testEnv.Kubectl, "--kubeconfig", kubeconfig, "get", "namespaces", "-o", "name")
	if err != nil || !strings.Contains(out, "namespace/kube-system") {
		t.Fatalf("kubectl get namespaces as %s: %v\n%s\n%s", pinny.Email, err, out, errOut)
	}
	out, errOut, err = runWithEnv(t, nil, cliBinary(t), "whoami", "--kubeconfig", kubeconfig, "--api-group-suffix", "selkie.dev")
	if err != nil || !strings.Contains(out, "Username: "+pinny.Email) || !strings.Contains(out, "Groups: "+strings.Join(pinny.Groups, ", ")) {
		t.Errorf("whoami: %v\n%s\n%s", err, out, errOut)
	}
}

// authenticatorFlagsIfAmbiguous names ours only when other tests' authenticators share
// the cluster; alone, the command must find it by itself.
func authenticatorFlagsIfAmbiguous(t *testing.T, kubeconfig, name string) []string {
	t.Helper()
	client := conciergeclient.NewForConfigOrDie(adminConfig(t, kubeconfig)).AuthenticationV1alpha1()
	jwts, err := client.JWTAuthenticators().List(testContext(t), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	webhooks, err := client.WebhookAuthenticators().List(testContext(t), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(jwts.Items)+len(webhooks.Items) == 1 {
		return nil
	}
	t.Logf("%d authenticators on the cluster: naming ours", len(jwts.Items)+len(webhooks.Items))
	return []string{"--concierge-authenticator-type", "jwt", "--concierge-authenticator-name", name}
}

func sourceClusterCA(t *testing.T, kubeconfig string) []byte {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	c := currentCluster(t, cfg)
	if len(c.CertificateAuthorityData) > 0 {
		return c.CertificateAuthorityData
	}
	data, err := os.ReadFile(c.CertificateAuthority)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func currentCluster(t *testing.T, cfg *clientcmdapi.Config) *clientcmdapi.Cluster {
	t.Helper()
	ctx := cfg.Contexts[cfg.CurrentContext]
	if ctx == nil || cfg.Clusters[ctx.Cluster] == nil {
		t.Fatalf("no current cluster in the kubeconfig")
	}
	return cfg.Clusters[ctx.Cluster]
}

func elideCAData(args []string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		for _, prefix := range []string{"--concierge-ca-bundle-data=", "--ca-bundle-data="} {
			if strings.HasPrefix(a, prefix) {
				out[i] = prefix + "<base64 PEM>"
			}
		}
	}
	return out
}

// startProxyConcierge starts a control plane of its own with a concierge whose only
// strategy is the impersonation proxy (no signing key, no CSR signing), as
// TestConciergeProxyStrategy does, and returns its admin kubeconfig and the proxy
// frontend its CredentialIssuer advertises.
func startProxyConcierge(t *testing.T) (string, *configv1alpha1.ImpersonationProxyInfo) {
	t.Helper()
	ctx := testContext(t)
	bins, err := env.FindBinaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := env.StartControlPlane(ctx, bins, t.TempDir(), "kubeconfig-proxy")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Close)
	kubeconfig := cp.AdminKubeconfig
	if err := applyCRDs(t, kubeconfig); err != nil {
		t.Fatal(err)
	}
	port, proxyPort := freePort(t), freePort(t)
	install := strings.SplitN(conciergeInstallYAML(port), "---\napiVersion: apiregistration.k8s.io/v1", 2)
	if err := applyYAML(kubeconfig, install[0]); err != nil {
		t.Fatal(err)
	}
	grantProxyAccount(t, ctx, kubernetes.NewForConfigOrDie(adminConfig(t, kubeconfig)), "selkie-concierge-impersonation-proxy")
	cis := conciergeclient.NewForConfigOrDie(adminConfig(t, kubeconfig)).ConfigV1alpha1().CredentialIssuers()
	if _, err := cis.Create(ctx, &configv1alpha1.CredentialIssuer{ObjectMeta: metav1.ObjectMeta{Name: "selkie-concierge-config"},
		Spec: configv1alpha1.CredentialIssuerSpec{ImpersonationProxy: &configv1alpha1.ImpersonationProxySpec{
			Mode:             configv1alpha1.ImpersonationProxyModeEnabled,
			Service:          configv1alpha1.ImpersonationProxyServiceSpec{Type: configv1alpha1.ImpersonationProxyServiceTypeNone},
			ExternalEndpoint: fmt.Sprintf("127.0.0.1:%d", proxyPort)}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(t.TempDir(), "concierge-proxy.log")
	proc, err := startProcess(selkieBins.concierge, logFile, "serve",
		"--kubeconfig", kubeconfig, "--namespace", conciergeNamespace, "--bind-address", "127.0.0.1",
		"--secure-port", fmt.Sprint(port), "--impersonation-proxy-port", fmt.Sprint(proxyPort), "--csr-signing=false")
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
	info := advertisedProxy(t, ctx, cis)
	waitAPIServices(t, kubeconfig, dumpLog)
	return kubeconfig, info
}

func waitAPIServices(t *testing.T, kubeconfig string, dumpLog func() string) {
	t.Helper()
	for _, name := range []string{"v1alpha1.login.concierge.selkie.dev", "v1alpha1.identity.concierge.selkie.dev"} {
		if _, errOut, err := kubectlWith(t, kubeconfig, "wait", "--for=condition=Available", "--timeout=60s", "apiservice/"+name); err != nil {
			t.Fatalf("APIService %s not Available: %v\n%s\n%s", name, err, errOut, dumpLog())
		}
	}
}

// assertNoSecrets scans a generated kubeconfig for every secret the environment has:
// admin client keys and certificates, tokens, user passwords and the Dex client secret.
func assertNoSecrets(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	secrets := map[string]string{"the Dex client secret": testEnv.Dex.ClientSecret}
	for _, u := range testEnv.Users {
		secrets["the password of "+u.Username] = u.Password
	}
	for _, cl := range testEnv.Clusters {
		admin, err := clientcmd.LoadFromFile(cl.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		for name, a := range admin.AuthInfos {
			for what, v := range map[string][]byte{"client key": a.ClientKeyData, "client certificate": a.ClientCertificateData, "token": []byte(a.Token)} {
				if len(v) > 0 {
					secrets[what+" of "+name] = string(v)
					secrets[what+" of "+name+" (base64)"] = base64.StdEncoding.EncodeToString(v)
				}
			}
		}
	}
	for what, secret := range secrets {
		if secret != "" && strings.Contains(text, secret) {
			t.Errorf("the generated kubeconfig contains %s", what)
		}
	}
	for _, marker := range []string{"PRIVATE KEY", "client-key-data", "token:", "client-secret"} {
		if strings.Contains(text, marker) {
			t.Errorf("the generated kubeconfig contains %q", marker)
		}
	}
}
