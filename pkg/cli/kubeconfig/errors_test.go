// SPDX-License-Identifier: Apache-2.0

package kubeconfig

import (
	"net/http"
	"os"
	"strings"
	"testing"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/apis/suffix"
	"github.com/selkie-dev/selkie/pkg/cli/internal/oidcclient"
)

// TestErrors checks each failure says what is wrong and what to do, and that nothing
// is written then.
func TestErrors(t *testing.T) {
	t.Parallel()
	sfx := suffix.Default
	ci := func(t *testing.T, strategies ...configv1alpha1.CredentialIssuerStrategy) func(*testing.T, *testEnv) {
		return func(t *testing.T, e *testEnv) {
			e.objects = append(e.objects, credentialIssuer(t, sfx, "ci", strategies...),
				jwtAuthenticator(t, sfx, "supervisor", e.issuer, "cluster-a", caData(e.caPEM)))
		}
	}
	jwtOnly := func(t *testing.T, e *testEnv) {
		e.objects = append(e.objects, jwtAuthenticator(t, sfx, "supervisor", e.issuer, "cluster-a", caData(e.caPEM)))
	}
	withCI := func(t *testing.T, e *testEnv) {
		e.objects = append(e.objects, credentialIssuer(t, sfx, "ci", tcrStrategy()))
	}
	dataSource := func(kind string) *authenticationv1alpha1.TLSSpec {
		return &authenticationv1alpha1.TLSSpec{CertificateAuthorityDataSource: &authenticationv1alpha1.CertificateAuthorityDataSourceSpec{
			Kind: authenticationv1alpha1.CertificateAuthorityDataSourceKind(kind), Name: "ca", Key: "ca.crt"}}
	}
	tests := []struct {
		name  string
		setup func(*testing.T, *testEnv)
		args  []string
		want  []string // substrings of the error
	}{
		{name: "no CredentialIssuer", setup: jwtOnly, args: []string{"--concierge-skip-wait"},
			want: []string{"no CredentialIssuer was found", `"selkie.dev"`, "--no-concierge"}},
		{name: "no CredentialIssuer within --timeout", setup: jwtOnly, args: []string{"--timeout", "300ms"},
			want: []string{"no CredentialIssuer was found", `"selkie.dev"`, "--no-concierge", "waited until --timeout"}},
		{name: "several CredentialIssuers", setup: func(t *testing.T, e *testEnv) {
			jwtOnly(t, e)
			e.objects = append(e.objects, credentialIssuer(t, sfx, "one", tcrStrategy()), credentialIssuer(t, sfx, "two", tcrStrategy()))
		}, want: []string{"several CredentialIssuers were found (one, two)", "--concierge-credential-issuer"}},
		{name: "named CredentialIssuer missing", setup: ci(t, tcrStrategy()), args: []string{"--concierge-credential-issuer", "nope"},
			want: []string{`could not get CredentialIssuer "nope"`}},
		{name: "no successful strategy", setup: ci(t, failedStrategy(configv1alpha1.KubeClusterSigningCertificateStrategyType, configv1alpha1.CouldNotFetchKeyStrategyReason),
			failedStrategy(configv1alpha1.ImpersonationProxyStrategyType, configv1alpha1.DisabledStrategyReason)),
			want: []string{"could not autodiscover --concierge-mode", "KubeClusterSigningCertificate: Error/CouldNotFetchKey", "ImpersonationProxy: Error/Disabled"}},
		{name: "no strategies", setup: ci(t), want: []string{"no successful strategy", "no strategies reported"}},
		{name: "unknown frontend only", setup: ci(t, configv1alpha1.CredentialIssuerStrategy{Type: "Future", Status: configv1alpha1.SuccessStrategyStatus,
			Reason: "Listening", Message: "m", Frontend: &configv1alpha1.CredentialIssuerFrontend{Type: "Carrier pigeon"}}),
			want: []string{"could not autodiscover --concierge-mode", "frontend Carrier pigeon"}},
		{name: "mode matches no strategy", setup: ci(t, tcrStrategy()), args: []string{"--concierge-mode", "ImpersonationProxy"},
			want: []string{"no successful strategy matching --concierge-mode=ImpersonationProxy"}},
		{name: "pending until timeout", setup: ci(t, failedStrategy(configv1alpha1.ImpersonationProxyStrategyType, configv1alpha1.PendingStrategyReason)),
			args: []string{"--timeout", "100ms"}, want: []string{`CredentialIssuer "ci" still has Pending strategies`, "--concierge-skip-wait"}},
		{name: "pending skipped", setup: ci(t, failedStrategy(configv1alpha1.ImpersonationProxyStrategyType, configv1alpha1.PendingStrategyReason)),
			args: []string{"--concierge-skip-wait"}, want: []string{"could not autodiscover --concierge-mode"}},
		{name: "no authenticator", setup: withCI, want: []string{"no JWTAuthenticator or WebhookAuthenticator was found"}},
		{name: "several authenticators", setup: func(t *testing.T, e *testEnv) {
			ci(t, tcrStrategy())(t, e)
			e.objects = append(e.objects, webhookAuthenticator(t, sfx, "hooks"))
		}, want: []string{"several authenticators were found (jwt/supervisor, webhook/hooks)", "--concierge-authenticator-type and --concierge-authenticator-name"}},
		{name: "authenticator name unknown", setup: ci(t, tcrStrategy()), args: []string{"--concierge-authenticator-name", "nope"},
			want: []string{`no authenticator matches --concierge-authenticator-type="" --concierge-authenticator-name="nope"; found: jwt/supervisor`}},
		{name: "authenticator type and name unknown", setup: ci(t, tcrStrategy()), args: []string{"--concierge-authenticator-type", "webhook", "--concierge-authenticator-name", "nope"},
			want: []string{`could not get the webhook authenticator "nope"`}},
		{name: "webhook authenticator and no issuer", setup: func(t *testing.T, e *testEnv) {
			withCI(t, e)
			e.objects = append(e.objects, webhookAuthenticator(t, sfx, "hooks"))
		}, want: []string{"could not autodiscover --oidc-issuer"}},
		{name: "audience with .pinniped.dev from the authenticator", setup: func(t *testing.T, e *testEnv) {
			withCI(t, e)
			e.objects = append(e.objects, jwtAuthenticator(t, sfx, "supervisor", e.issuer, "cluster.pinniped.dev", caData(e.caPEM)))
		}, want: []string{`JWTAuthenticator "supervisor": the request audience "cluster.pinniped.dev" must not contain the reserved substring ".pinniped.dev"`}},
		{name: "audience with .pinniped.dev from the flag", setup: ci(t, tcrStrategy()), args: []string{"--oidc-request-audience", "x.pinniped.dev"},
			want: []string{`"x.pinniped.dev" must not contain`}},
		{name: "supervisor unreachable", setup: func(t *testing.T, e *testEnv) {
			ci(t, tcrStrategy())(t, e)
			e.supervisor.Close()
		}, want: []string{"could not reach the supervisor for OIDC discovery", "--oidc-issuer"}},
		{name: "supervisor CA unknown", setup: func(t *testing.T, e *testEnv) {
			withCI(t, e)
			e.objects = append(e.objects, jwtAuthenticator(t, sfx, "supervisor", e.issuer, "cluster-a", nil))
		}, want: []string{"could not reach the supervisor", "--oidc-ca-bundle", "certificate"}},
		{name: "several identity providers", setup: func(t *testing.T, e *testEnv) {
			ci(t, tcrStrategy())(t, e)
			e.idps = append(e.idps, oidcclient.IdentityProvider{Name: "okta", Type: "oidc", Flows: []string{"browser_authcode"}})
		}, want: []string{"several identity providers", `"corp-ldap" (type ldap, flows cli_password,browser_authcode), "okta" (type oidc, flows browser_authcode)`,
			"--upstream-identity-provider-name"}},
		{name: "unknown identity provider", setup: ci(t, tcrStrategy()), args: []string{"--upstream-identity-provider-name", "okta"},
			want: []string{`no identity provider matching --upstream-identity-provider-name="okta"`, `it has: "corp-ldap"`}},
		{name: "identity provider of another type", setup: ci(t, tcrStrategy()), args: []string{"--upstream-identity-provider-type", "oidc"},
			want: []string{`--upstream-identity-provider-type="oidc"`}},
		{name: "flow not offered", setup: func(t *testing.T, e *testEnv) {
			ci(t, tcrStrategy())(t, e)
			e.idps[0].Flows = []string{"browser_authcode"}
		}, args: []string{"--upstream-identity-provider-flow", "cli_password"}, want: []string{`does not offer --upstream-identity-provider-flow="cli_password"`}},
		{name: "cluster does not answer below 500", setup: func(t *testing.T, e *testEnv) {
			ci(t, tcrStrategy())(t, e)
			broken := newTLSServer(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
			e.kubeconfig = writeSourceKubeconfig(t, broken.URL, e.caPEM, e.secrets)
		}, args: []string{"--timeout", "5s"}, want: []string{"could not validate the new kubeconfig", "status below 500", "502", "--skip-validation"}},
		{name: "CA Secret of a wrong type", setup: func(t *testing.T, e *testEnv) {
			withCI(t, e)
			e.objects = append(e.objects, jwtAuthenticator(t, sfx, "supervisor", e.issuer, "cluster-a", dataSource("Secret")),
				plainObject("apiregistration.k8s.io/v1", "APIService", "", "v1alpha1.login.concierge.selkie.dev",
					map[string]any{"spec": map[string]any{"service": map[string]any{"namespace": "ns"}}}),
				plainObject("v1", "Secret", "ns", "ca", map[string]any{"type": "kubernetes.io/service-account-token", "data": map[string]any{"ca.crt": "eA=="}}))
		}, want: []string{`has type "kubernetes.io/service-account-token"`}},
		{name: "CA source without APIService", setup: func(t *testing.T, e *testEnv) {
			withCI(t, e)
			e.objects = append(e.objects, jwtAuthenticator(t, sfx, "supervisor", e.issuer, "cluster-a", dataSource("ConfigMap")))
		}, want: []string{"could not find the concierge namespace from APIService v1alpha1.login.concierge.selkie.dev"}},
		{name: "bad mode", args: []string{"--concierge-mode", "Teleport"}, want: []string{`--concierge-mode "Teleport" must be`}},
		{name: "bad authenticator type", args: []string{"--concierge-authenticator-type", "ldap"}, want: []string{"must be jwt or webhook"}},
		{name: "both static flags", args: []string{"--static-token", "a", "--static-token-env", "B"}, want: []string{"only one of --static-token, --static-token-env and --static-token-file"}},
		{name: "static env and file", args: []string{"--static-token-env", "B", "--static-token-file", "/t"}, want: []string{"only one of --static-token, --static-token-env and --static-token-file"}},
		{name: "bad suffix", args: []string{"--concierge-api-group-suffix", "pinniped"}, want: []string{"--concierge-api-group-suffix", "must contain a dot"}},
		{name: "unknown context", args: []string{"--kubeconfig-context", "nope"}, want: []string{`no context "nope"`}},
		{name: "no issuer without concierge", args: []string{"--no-concierge"}, want: []string{"could not autodiscover --oidc-issuer"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t)
			if tc.setup != nil {
				tc.setup(t, e)
			}
			output := t.TempDir() + "/out.yaml"
			_, errOut, err := e.run(t, append([]string{"-o", output}, tc.args...)...)
			if err == nil {
				t.Fatalf("get kubeconfig succeeded, want an error with %q\n%s", tc.want, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
			if _, statErr := os.Stat(output); !os.IsNotExist(statErr) {
				t.Errorf("the output file was written despite the error")
			}
		})
	}
}
