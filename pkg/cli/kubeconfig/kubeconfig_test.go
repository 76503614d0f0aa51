// SPDX-License-Identifier: Apache-2.0

package kubeconfig

import (
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	clienttesting "k8s.io/client-go/testing"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/apis/suffix"
	"github.com/selkie-dev/selkie/pkg/cli/internal/oidcclient"
	"github.com/selkie-dev/selkie/pkg/cli/logincmd"
)

// golden reads testdata/name with its placeholders replaced.
func golden(t *testing.T, name string, replace ...string) string {
	t.Helper()
	return strings.NewReplacer(replace...).Replace(readFile(t, filepath.Join("testdata", name)))
}

// TestGoldenOIDCThroughTokenCredentialRequestAPI is full autodiscovery: the whole
// kubeconfig, exec arguments in the order of docs/wire-contract.md §3.2, byte for byte.
func TestGoldenOIDCThroughTokenCredentialRequestAPI(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.standard(t)
	out, errOut, err := e.run(t, "--install-hint", "Install selkie.",
		"--oidc-session-cache", "/home/u/.cache/sessions.yaml", "--credential-cache", "/home/u/.cache/credentials.yaml")
	if err != nil {
		t.Fatalf("get kubeconfig: %v\n%s", err, errOut)
	}
	ca := base64.StdEncoding.EncodeToString(e.caPEM)
	want := golden(t, "oidc-tcr.golden.yaml", "{{CA}}", ca, "{{SERVER}}", e.apiServer.URL, "{{ISSUER}}", e.issuer)
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("kubeconfig (-want +got):\n%s", diff)
	}
	// The login command reads these arguments back with its own flags.
	args, err := logincmd.ParseOIDCArgs(execOf(t, parse(t, out)).Args)
	if err != nil {
		t.Fatalf("login oidc cannot parse the generated arguments: %v", err)
	}
	if args.Issuer != e.issuer || args.IDPName != "corp-ldap" || args.SessionCache != "/home/u/.cache/sessions.yaml" {
		t.Errorf("login oidc reads %+v", args)
	}
	if len(e.restConfigs) != 1 || e.restConfigs[0].Host != e.apiServer.URL {
		t.Errorf("discovery used %d clients, want one for the source cluster", len(e.restConfigs))
	}
}

// TestGoldenStaticThroughImpersonationProxy: the first strategy failed, the proxy's
// endpoint and CA are used, the webhook authenticator is autodiscovered.
func TestGoldenStaticThroughImpersonationProxy(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	proxy := newTLSServer(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	e.objects = append(e.objects,
		credentialIssuer(t, suffix.Default, "ci", failedStrategy(configv1alpha1.KubeClusterSigningCertificateStrategyType, configv1alpha1.CouldNotFetchKeyStrategyReason),
			proxyStrategy(proxy.URL, e.caPEM)),
		webhookAuthenticator(t, suffix.Default, "hooks"))
	out, errOut, err := e.run(t, "--install-hint", "Install selkie.", "--static-token-env", "MY_TOKEN", "--credential-cache", "")
	if err != nil {
		t.Fatalf("get kubeconfig: %v\n%s", err, errOut)
	}
	want := golden(t, "static-proxy.golden.yaml", "{{CA}}", base64.StdEncoding.EncodeToString(e.caPEM), "{{SERVER}}", proxy.URL)
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("kubeconfig (-want +got):\n%s", diff)
	}
}

// TestNoSecretFromTheSourceKubeconfig: admin credentials are only used for discovery.
func TestNoSecretFromTheSourceKubeconfig(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{nil, {"--no-concierge", "--oidc-issuer", "ISSUER", "--oidc-ca-bundle", "CA"}, {"--static-token-env", "T"}} {
		e := newTestEnv(t)
		e.standard(t)
		for i := range args {
			args[i] = strings.NewReplacer("ISSUER", e.issuer, "CA", writeTemp(t, e.caPEM)).Replace(args[i])
		}
		out, errOut, err := e.run(t, args...)
		if err != nil {
			t.Fatalf("get kubeconfig %v: %v\n%s", args, err, errOut)
		}
		s := e.secrets
		for what, secret := range map[string]string{
			"client key PEM": string(s.keyPEM), "client key (base64)": base64.StdEncoding.EncodeToString(s.keyPEM),
			"client certificate PEM": string(s.certPEM), "client certificate (base64)": base64.StdEncoding.EncodeToString(s.certPEM),
			"token": s.token, "token (base64)": base64.StdEncoding.EncodeToString([]byte(s.token)),
			"client-key-data": "client-key-data", "client-certificate-data": "client-certificate-data", "token:": "token:",
		} {
			if strings.Contains(out, secret) || strings.Contains(errOut, secret) {
				t.Errorf("%v: the output contains the source kubeconfig's %s:\n%s", args, what, out)
			}
		}
	}
}

func TestFlagOverrides(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	other := newTestEnv(t) // a second TLS server: the overriding CA must be used
	otherCA := filepath.Join(dir, "other-ca.pem")
	if err := os.WriteFile(otherCA, other.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	e := newTestEnv(t)
	e.standard(t)
	e.idps = append(e.idps, oidcclient.IdentityProvider{Name: "okta", Type: "oidc", Flows: []string{"browser_authcode", "cli_password"}})
	out, errOut, err := e.run(t, "--skip-validation", "--kubeconfig-context", "kind-a", "--generated-name-suffix", "-sso",
		"--pinniped-cli-path", "/opt/bin/pinniped", "--concierge-endpoint", "https://lb.example.com:443", "--concierge-ca-bundle", otherCA,
		"--concierge-authenticator-type", "JWT", "--concierge-mode", "tokencredentialrequestapi",
		"--oidc-issuer", e.issuer, "--oidc-ca-bundle", otherCA, "--oidc-request-audience", "my-aud", "--oidc-client-id", "my-client",
		"--oidc-scopes", "openid,offline_access", "--oidc-listen-port", "48095", "--oidc-skip-browser", "--oidc-skip-listen",
		"--oidc-debug-session-cache", "--upstream-identity-provider-name", "okta", "--upstream-identity-provider-flow", "cli_password",
		"--concierge-namespace", "ignored")
	if err != nil {
		t.Fatalf("get kubeconfig: %v\n%s", err, errOut)
	}
	cfg := parse(t, out)
	otherData := base64.StdEncoding.EncodeToString(other.caPEM)
	wantArgs := []string{"login", "oidc", "--enable-concierge", "--concierge-api-group-suffix=selkie.dev",
		"--concierge-authenticator-name=supervisor", "--concierge-authenticator-type=jwt", "--concierge-endpoint=https://lb.example.com:443",
		"--concierge-ca-bundle-data=" + otherData, "--issuer=" + e.issuer, "--client-id=my-client", "--scopes=openid,offline_access",
		"--skip-browser", "--skip-listen", "--listen-port=48095", "--ca-bundle-data=" + otherData, "--debug-session-cache",
		"--request-audience=my-aud", "--upstream-identity-provider-name=okta", "--upstream-identity-provider-type=oidc",
		"--upstream-identity-provider-flow=cli_password"}
	exec := execOf(t, cfg)
	if diff := cmp.Diff(wantArgs, exec.Args); diff != "" {
		t.Errorf("exec args (-want +got):\n%s", diff)
	}
	if exec.Command != "/opt/bin/pinniped" || cfg.CurrentContext != "kind-a-sso" || cfg.Contexts["kind-a-sso"].AuthInfo != "kind-a-admin-sso" {
		t.Errorf("command %q, context %q %+v", exec.Command, cfg.CurrentContext, cfg.Contexts)
	}
	if c := cfg.Clusters["kind-a-sso"]; c == nil || c.Server != "https://lb.example.com:443" || string(c.CertificateAuthorityData) != string(other.caPEM) {
		t.Errorf("cluster %+v, want the overriding endpoint and CA", c)
	}
}

func TestImpersonationProxyByMode(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	proxy := newTLSServer(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusUnauthorized) })
	e.objects = append(e.objects, credentialIssuer(t, suffix.Default, "ci", tcrStrategy(), proxyStrategy(proxy.URL, e.caPEM)),
		jwtAuthenticator(t, suffix.Default, "supervisor", e.issuer, "cluster-a", caData(e.caPEM)))
	for mode, want := range map[string]string{"": e.apiServer.URL, modeImpersonationProxy: proxy.URL, modeTokenCredentialRequestAPI: e.apiServer.URL} {
		out, errOut, err := e.run(t, "--concierge-mode", mode)
		if err != nil {
			t.Fatalf("mode %q: %v\n%s", mode, err, errOut)
		}
		cfg := parse(t, out)
		if got := cfg.Clusters["kind-a-selkie"].Server; got != want || !slices.Contains(execOf(t, cfg).Args, "--concierge-endpoint="+want) {
			t.Errorf("mode %q: server %q, want %q", mode, got, want)
		}
	}
}

func TestNoConcierge(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t) // no concierge objects at all
	out, errOut, err := e.run(t, "--no-concierge", "--oidc-issuer", e.issuer, "--oidc-ca-bundle", writeTemp(t, e.caPEM))
	if err != nil {
		t.Fatalf("get kubeconfig: %v\n%s", err, errOut)
	}
	want := []string{"login", "oidc", "--issuer=" + e.issuer, "--client-id=pinniped-cli",
		"--scopes=offline_access,openid,pinniped:request-audience,username,groups", "--ca-bundle-data=" + base64.StdEncoding.EncodeToString(e.caPEM),
		"--upstream-identity-provider-name=corp-ldap", "--upstream-identity-provider-type=ldap", "--upstream-identity-provider-flow=cli_password"}
	cfg := parse(t, out)
	if diff := cmp.Diff(want, execOf(t, cfg).Args); diff != "" {
		t.Errorf("exec args (-want +got):\n%s", diff)
	}
	if len(e.restConfigs) != 0 {
		t.Errorf("--no-concierge still read the cluster")
	}
	if c := cfg.Clusters["kind-a-selkie"]; c.Server != e.apiServer.URL {
		t.Errorf("server %q, want the source cluster's", c.Server)
	}
}

func TestStaticTokenWithJWTAuthenticator(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.standard(t)
	e.supervisor.Close() // a static token needs no supervisor
	out, errOut, err := e.run(t, "--static-token", "tok3n")
	if err != nil {
		t.Fatalf("get kubeconfig: %v\n%s", err, errOut)
	}
	args := execOf(t, parse(t, out)).Args
	if want := []string{"login", "static", "--enable-concierge"}; !slices.Equal(args[:3], want) || args[len(args)-1] != "--token=tok3n" {
		t.Errorf("args %q", args)
	}
}

// TestAuthenticatorCAFromDataSource: the CA of the issuer from a Secret or a ConfigMap
// in the concierge namespace named by the login APIService.
func TestAuthenticatorCAFromDataSource(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"Secret", "ConfigMap"} {
		e := newTestEnv(t)
		tls := &authenticationv1alpha1.TLSSpec{CertificateAuthorityDataSource: &authenticationv1alpha1.CertificateAuthorityDataSourceSpec{
			Kind: authenticationv1alpha1.CertificateAuthorityDataSourceKind(kind), Name: "supervisor-ca", Key: "ca.crt"}}
		e.objects = append(e.objects, credentialIssuer(t, "pinniped.dev", "ci", tcrStrategy()),
			jwtAuthenticator(t, "pinniped.dev", "supervisor", e.issuer, "cluster-a", tls),
			plainObject("apiregistration.k8s.io/v1", "APIService", "", "v1alpha1.login.concierge.pinniped.dev",
				map[string]any{"spec": map[string]any{"service": map[string]any{"namespace": "pinniped-concierge", "name": "api"}}}))
		if kind == "Secret" {
			e.objects = append(e.objects, plainObject("v1", "Secret", "pinniped-concierge", "supervisor-ca",
				map[string]any{"type": "Opaque", "data": map[string]any{"ca.crt": base64.StdEncoding.EncodeToString(e.caPEM)}}))
		} else {
			e.objects = append(e.objects, plainObject("v1", "ConfigMap", "pinniped-concierge", "supervisor-ca",
				map[string]any{"data": map[string]any{"ca.crt": string(e.caPEM)}}))
		}
		out, errOut, err := e.run(t, "--concierge-api-group-suffix", "pinniped.dev")
		if err != nil {
			t.Fatalf("%s: %v\n%s", kind, err, errOut)
		}
		args := execOf(t, parse(t, out)).Args
		for _, want := range []string{"--ca-bundle-data=" + base64.StdEncoding.EncodeToString(e.caPEM), "--concierge-api-group-suffix=pinniped.dev"} {
			if !slices.Contains(args, want) {
				t.Errorf("%s: args %q lack %q", kind, args, want)
			}
		}
	}
}

// TestWaitsForPendingStrategies: a Pending strategy is re-read every interval.
func TestWaitsForPendingStrategies(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.standard(t)
	pendingCI := credentialIssuer(t, suffix.Default, "ci", tcrStrategy(),
		failedStrategy(configv1alpha1.ImpersonationProxyStrategyType, configv1alpha1.PendingStrategyReason))
	calls := 0
	out, errOut, err := e.runWith(t, func(d *Deps) {
		newClient := d.NewClient
		d.NewClient = func(cfg *rest.Config) (dynamic.Interface, error) {
			c, err := newClient(cfg)
			e.client.PrependReactor("get", "credentialissuers", func(clienttesting.Action) (bool, runtime.Object, error) {
				calls++
				return calls < 3, pendingCI, nil
			})
			return c, err
		}
	}, "--concierge-credential-issuer", "selkie-concierge-config")
	if err != nil {
		t.Fatalf("get kubeconfig: %v\n%s", err, errOut)
	}
	if calls != 3 || !strings.Contains(errOut, "waiting for pending CredentialIssuer strategies") {
		t.Errorf("read the CredentialIssuer %d times, want 3\n%s", calls, errOut)
	}
	parse(t, out)
}

func TestOutputFile(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.standard(t)
	path := filepath.Join(t.TempDir(), "out.yaml")
	out, errOut, err := e.run(t, "-o", path)
	if err != nil || out != "" {
		t.Fatalf("get kubeconfig -o: %v (stdout %q)\n%s", err, out, errOut)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("output file: %v %v, want mode 0600", err, fi)
	}
	parse(t, readFile(t, path))
}

func writeTemp(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPlainIssuer: without IdP discovery the upstream flags are copied as given.
func TestPlainIssuer(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.standard(t)
	e.noIDPs = true
	out, errOut, err := e.run(t, "--upstream-identity-provider-flow", "browser_authcode")
	if err != nil {
		t.Fatalf("get kubeconfig: %v\n%s", err, errOut)
	}
	args := execOf(t, parse(t, out)).Args
	if last := args[len(args)-2:]; !slices.Equal(last, []string{"--request-audience=cluster-a", "--upstream-identity-provider-flow=browser_authcode"}) {
		t.Errorf("args end with %q", last)
	}
}

// TestAuthenticatorByFlags: type and name get one; the type alone picks the only one of that type.
func TestAuthenticatorByFlags(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.standard(t)
	e.objects = append(e.objects, webhookAuthenticator(t, suffix.Default, "hooks"), webhookAuthenticator(t, suffix.Default, "other"))
	out, errOut, err := e.run(t, "--concierge-authenticator-type", "webhook", "--concierge-authenticator-name", "other",
		"--static-token", "t")
	if err != nil {
		t.Fatalf("get kubeconfig: %v\n%s", err, errOut)
	}
	args := execOf(t, parse(t, out)).Args
	if !slices.Contains(args, "--concierge-authenticator-name=other") || !slices.Contains(args, "--concierge-authenticator-type=webhook") {
		t.Errorf("args %q", args)
	}
	out, errOut, err = e.run(t, "--concierge-authenticator-type", "jwt")
	if err != nil {
		t.Fatalf("get kubeconfig: %v\n%s", err, errOut)
	}
	if args := execOf(t, parse(t, out)).Args; !slices.Contains(args, "--concierge-authenticator-name=supervisor") {
		t.Errorf("args %q", args)
	}
}

// TestOlderSupervisors checks kubeconfigs for supervisors from before IdP discovery
// listed every identity provider and before the username and groups scopes existed.
func TestOlderSupervisors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		scopes      []string
		idps        []oidcclient.IdentityProvider
		args        []string
		wantScopes  string
		wantUpFlags []string
		wantStderr  string
	}{
		{name: "no identity provider listed", idps: []oidcclient.IdentityProvider{},
			wantScopes: "offline_access,openid,pinniped:request-audience,username,groups", wantStderr: "lists no identity providers"},
		{name: "no identity provider listed, flags given", idps: []oidcclient.IdentityProvider{}, args: []string{"--upstream-identity-provider-name", "okta"},
			wantScopes: "offline_access,openid,pinniped:request-audience,username,groups", wantUpFlags: []string{"--upstream-identity-provider-name=okta"},
			wantStderr: "lists no identity providers"},
		{name: "neither username nor groups supported", scopes: []string{"openid", "offline_access", "pinniped:request-audience"},
			wantScopes: "offline_access,openid,pinniped:request-audience", wantStderr: `scope=groups`},
		{name: "groups supported, username not", scopes: []string{"openid", "offline_access", "pinniped:request-audience", "groups"},
			wantScopes: "offline_access,openid,pinniped:request-audience,groups", wantStderr: `scope=username`},
		{name: "both supported", scopes: []string{"openid", "offline_access", "pinniped:request-audience", "username", "groups"},
			wantScopes: "offline_access,openid,pinniped:request-audience,username,groups"},
		{name: "explicit scopes, one unsupported", scopes: []string{"openid", "offline_access"}, args: []string{"--oidc-scopes", "openid,groups,offline_access"},
			wantScopes: "openid,offline_access", wantStderr: `scope=groups`},
		{name: "all upstream flags given, scopes still checked", scopes: []string{"openid", "offline_access", "pinniped:request-audience"},
			args:       []string{"--upstream-identity-provider-name", "okta", "--upstream-identity-provider-type", "oidc", "--upstream-identity-provider-flow", "browser_authcode"},
			wantScopes: "offline_access,openid,pinniped:request-audience",
			wantUpFlags: []string{"--upstream-identity-provider-name=okta", "--upstream-identity-provider-type=oidc",
				"--upstream-identity-provider-flow=browser_authcode"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			e.standard(t)
			e.scopes = tc.scopes
			if tc.idps != nil {
				e.idps = tc.idps
			}
			out, errOut, err := e.run(t, append([]string{"--skip-validation"}, tc.args...)...)
			if err != nil {
				t.Fatalf("get kubeconfig: %v\n%s", err, errOut)
			}
			args := execOf(t, parse(t, out)).Args
			if !slices.Contains(args, "--scopes="+tc.wantScopes) {
				t.Errorf("args %v, want --scopes=%s", args, tc.wantScopes)
			}
			var upFlags []string
			for _, a := range args {
				if strings.HasPrefix(a, "--upstream-identity-provider-") {
					upFlags = append(upFlags, a)
				}
			}
			wantUp := tc.wantUpFlags
			if tc.idps == nil && wantUp == nil {
				wantUp = []string{"--upstream-identity-provider-name=corp-ldap", "--upstream-identity-provider-type=ldap", "--upstream-identity-provider-flow=cli_password"}
			}
			if diff := cmp.Diff(wantUp, upFlags); diff != "" {
				t.Errorf("upstream flags (-want +got):\n%s", diff)
			}
			if tc.wantStderr != "" && !strings.Contains(errOut, tc.wantStderr) {
				t.Errorf("stderr %q, want %q", errOut, tc.wantStderr)
			}
		})
	}
}

// TestPipelineKubeconfig: a JWTAuthenticator trusting a CI system's issuer (which is no
// Selkie supervisor, so nothing is discovered from it) and --static-token-file give a
// kubeconfig whose user runs `login static --token-file` against that authenticator.
func TestPipelineKubeconfig(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.objects = append(e.objects, credentialIssuer(t, suffix.Default, "selkie-concierge-config", tcrStrategy()),
		jwtAuthenticator(t, suffix.Default, "github-actions", "https://ci.invalid", "cluster-a", nil))
	out, errOut, err := e.run(t, "--static-token-file", "/run/ci/id-token", "--credential-cache", "")
	if err != nil {
		t.Fatalf("get kubeconfig: %v\n%s", err, errOut)
	}
	args := parse(t, out).AuthInfos[parse(t, out).Contexts[parse(t, out).CurrentContext].AuthInfo].Exec.Args
	joined := strings.Join(args, " ")
	for _, want := range []string{"login static", "--enable-concierge", "--concierge-authenticator-type=jwt",
		"--concierge-authenticator-name=github-actions", "--token-file=/run/ci/id-token"} {
		if !strings.Contains(joined, want) {
			t.Errorf("exec args %q lack %q", joined, want)
		}
	}
	for _, unwanted := range []string{"--issuer", "--request-audience", "--token-env", "--token="} {
		if strings.Contains(joined, unwanted) {
			t.Errorf("exec args %q hold %q", joined, unwanted)
		}
	}
}
