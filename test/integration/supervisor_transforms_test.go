//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	supervisorclient "github.com/selkie-dev/selkie/generated/client/supervisor/clientset/versioned"
	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
)

// Identity providers of the FederationDomains below, as YAML list items.
const (
	policyIdPs = `  - displayName: dex
    objectRef: {apiGroup: idp.supervisor.selkie.dev, kind: OIDCIdentityProvider, name: dex}
    transforms:
      expressions:
      - {type: policy/v1, expression: '!("seals/admins" in groups)', message: seal admins must use their admin account}
      examples:
      - {username: pinny@example.com, groups: [seals, seals/admins], expects: {rejected: true, message: seal admins must use their admin account}}
      - {username: wally@example.com, groups: [walruses], expects: {username: wally@example.com, groups: [walruses]}}
`
	prefixIdPs = `  - displayName: dex
    objectRef: {apiGroup: idp.supervisor.selkie.dev, kind: OIDCIdentityProvider, name: dex}
    transforms:
      constants:
      - {name: prefix, type: string, stringValue: "dex:"}
      expressions:
      - {type: username/v1, expression: 'strConst.prefix + username'}
      - {type: groups/v1, expression: 'groups.map(g, strConst.prefix + g)'}
      examples:
      - {username: a, groups: [b, b], expects: {username: "dex:a", groups: ["dex:b"]}}
`
	// examplesIdPs: "bad" upper-cases usernames but its example expects them unchanged.
	examplesIdPs = `  - displayName: good
    objectRef: {apiGroup: idp.supervisor.selkie.dev, kind: OIDCIdentityProvider, name: dex}
  - displayName: bad
    objectRef: {apiGroup: idp.supervisor.selkie.dev, kind: OIDCIdentityProvider, name: dex2}
    transforms:
      expressions:
      - {type: username/v1, expression: 'username.upperAscii()'}
      examples:
      - {username: pinny, expects: {username: %s}}
`
	// refreshIdPs takes the groups prefix and an extra expression.
	refreshIdPs = `  - displayName: dex
    objectRef: {apiGroup: idp.supervisor.selkie.dev, kind: OIDCIdentityProvider, name: dex}
    transforms:
      constants:
      - {name: gp, type: string, stringValue: %q}
      expressions:
      - {type: groups/v1, expression: 'groups.map(g, strConst.gp + g)'}
%s`
)

// transformsFDYAML is a FederationDomain with the identity providers of idps.
func transformsFDYAML(ns, name, issuer, idps string) string {
	return fmt.Sprintf("apiVersion: config.supervisor.selkie.dev/v1alpha1\nkind: FederationDomain\nmetadata: {name: %s, namespace: %s}\nspec:\n  issuer: %q\n  identityProviders:\n%s",
		name, ns, issuer, idps)
}

// TestSupervisorTransforms runs FederationDomain identity transforms (docs/wire-contract.md
// §1.6) against Dex: a policy rejecting a login, a username and groups prefix that
// reaches the concierge's certificate, a failing example disabling its identity provider,
// and refresh re-running the transforms after they change.
func TestSupervisorTransforms(t *testing.T) {
	s := startSupervisor(t)
	ns := s.namespace
	manifest := dexIdPYAML(ns, "dex", true) + "---\n" + dexIdPYAML(ns, "dex2", true) +
		"---\n" + transformsFDYAML(ns, "policy", s.issuer("/policy"), policyIdPs) +
		"---\n" + transformsFDYAML(ns, "prefix", s.issuer("/prefix"), prefixIdPs) +
		"---\n" + transformsFDYAML(ns, "examples", s.issuer("/examples"), fmt.Sprintf(examplesIdPs, "pinny")) +
		"---\n" + transformsFDYAML(ns, "refresh", s.issuer("/refresh"), fmt.Sprintf(refreshIdPs, "v1:", ""))
	if err := applyYAML(testEnv.Management().Kubeconfig, manifest); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]string{"/policy": {"dex"}, "/prefix": {"dex"}, "/examples": {"good"}, "/refresh": {"dex"}} {
		eventually(t, 60*time.Second, "FederationDomain "+path+" lists "+strings.Join(want, ", "), func() (bool, error) {
			names, err := s.idpNames(path)
			return err == nil && slices.Equal(names, want), fmt.Errorf("%v %v", names, err)
		})
	}
	pinny, wally := testEnv.Users[0], testEnv.Users[1]

	t.Run("a policy rejects a login", func(t *testing.T) {
		loc := s.authorize(t, "/policy", url.Values{"pinniped_idp_name": {"dex"}}, pinny.Email, pinny.Password, newPKCE(t))
		want := "Reason: configured identity policy rejected this authentication: seal admins must use their admin account."
		if q := loc.Query(); q.Get("error") != "access_denied" || !strings.Contains(q.Get("error_description"), want) || q.Get("code") != "" {
			t.Errorf("redirect %s, want access_denied containing %q", loc, want)
		}
		tokens := s.passwordLogin(t, "/policy", "dex", wally.Email, wally.Password)
		if claims := s.verifyIDToken(t, "/policy", oidcprovider.CLIClientID, tokens.IDToken); claims.Username != wally.Email {
			t.Errorf("username %q, want %q", claims.Username, wally.Email)
		}
	})

	t.Run("a prefix reaches the ID token and the certificate", func(t *testing.T) {
		testTransformedCertificate(t, s, pinny.Email, pinny.Password, pinny.Groups)
	})

	t.Run("a failing example disables its identity provider", func(t *testing.T) {
		fd := s.federationDomain(t, "examples")
		examples := findCondition(fd.Status.Conditions, configv1alpha1.ConditionTransformsExamplesPassed)
		if examples.Status != metav1.ConditionFalse || examples.Reason != configv1alpha1.ReasonTransformsExamplesFailed ||
			!strings.Contains(examples.Message, `of "bad" failed, so they are disabled in this FederationDomain`) ||
			!strings.Contains(examples.Message, `examples[0] (username "pinny"): expected username "pinny", got "PINNY"`) {
			t.Errorf("TransformsExamplesPassed: %+v", examples)
		}
		if ready := findCondition(fd.Status.Conditions, configv1alpha1.ConditionReady); ready.Status != metav1.ConditionFalse || fd.Status.Phase != configv1alpha1.FederationDomainPhaseError {
			t.Errorf("phase %q, Ready %+v: want Error and False", fd.Status.Phase, ready)
		}
		loc := s.authorizeAny(t, "/examples", url.Values{"pinniped_idp_name": {"bad"}}, pinny.Email, pinny.Password)
		if loc == nil || loc.Query().Get("code") != "" || loc.Query().Get("error") != "invalid_request" {
			t.Errorf("login through the disabled IdP: redirect %v, want invalid_request", loc)
		}
		tokens := s.passwordLogin(t, "/examples", "good", pinny.Email, pinny.Password)
		if claims := s.verifyIDToken(t, "/examples", oidcprovider.CLIClientID, tokens.IDToken); claims.Username != pinny.Email {
			t.Errorf("username through the other IdP %q, want %q", claims.Username, pinny.Email)
		}
		// Fixing the example brings the identity provider back.
		if err := applyYAML(testEnv.Management().Kubeconfig, transformsFDYAML(ns, "examples", s.issuer("/examples"), fmt.Sprintf(examplesIdPs, "PINNY"))); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "the fixed IdP is listed", func() (bool, error) {
			names, err := s.idpNames("/examples")
			return slices.Equal(names, []string{"bad", "good"}), fmt.Errorf("%v %v", names, err)
		})
		tokens = s.passwordLogin(t, "/examples", "bad", pinny.Email, pinny.Password)
		if claims := s.verifyIDToken(t, "/examples", oidcprovider.CLIClientID, tokens.IDToken); claims.Username != strings.ToUpper(pinny.Email) {
			t.Errorf("username %q, want %q", claims.Username, strings.ToUpper(pinny.Email))
		}
		eventually(t, 30*time.Second, "the FederationDomain is Ready", func() (bool, error) {
			phase := s.federationDomain(t, "examples").Status.Phase
			return phase == configv1alpha1.FederationDomainPhaseReady, fmt.Errorf("phase %q", phase)
		})
	})

	t.Run("refresh re-runs the transforms", func(t *testing.T) {
		testTransformsOnRefresh(t, s, pinny.Email, pinny.Password)
	})
}

// testTransformedCertificate logs in through /prefix and buys a concierge certificate
// with the exchanged token: both carry the transformed identity.
func testTransformedCertificate(t *testing.T, s *supervisor, email, password string, groups []string) {
	tokens := s.passwordLogin(t, "/prefix", "dex", email, password)
	var wantGroups []string
	for _, g := range groups {
		wantGroups = append(wantGroups, "dex:"+g)
	}
	slices.Sort(wantGroups)
	claims := s.verifyIDToken(t, "/prefix", oidcprovider.CLIClientID, tokens.IDToken)
	if claims.Username != "dex:"+email || !slices.Equal(claims.Groups, wantGroups) {
		t.Errorf("ID token username %q groups %v, want %q %v", claims.Username, claims.Groups, "dex:"+email, wantGroups)
	}
	c := sharedConcierge(t)
	audience := fmt.Sprintf("transforms-%d", time.Now().UnixNano())
	authenticator := createSupervisorJWTAuthenticator(t, c.cluster, s.issuer("/prefix"), audience, s.caPEM)
	exchanged, status, body := s.tokenRequest(t, "/prefix", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"client_id": {oidcprovider.CLIClientID}, "audience": {audience}, "subject_token": {tokens.AccessToken},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}, "requested_token_type": {"urn:ietf:params:oauth:token-type:jwt"}})
	if status != http.StatusOK {
		t.Fatalf("token exchange: %d %s", status, body)
	}
	resp := tokenCredentialRequest(t, c.cluster, exchanged.AccessToken, authenticator)
	if resp.Status.Credential == nil {
		t.Fatalf("TokenCredentialRequest failed: %s; audit reason: %s", deref(resp.Status.Message), c.auditReason(t, exchanged.AccessToken, "JWTAuthenticator", authenticator))
	}
	cert := parseCert(t, resp.Status.Credential.ClientCertificateData)
	if cert.Subject.CommonName != "dex:"+email || !slices.Equal(cert.Subject.Organization, wantGroups) {
		t.Errorf("certificate for %q %v, want %q %v", cert.Subject.CommonName, cert.Subject.Organization, "dex:"+email, wantGroups)
	}
}

// testTransformsOnRefresh changes /refresh's transforms under a live session: new
// groups come with the next refresh (and warnings), and a policy added later ends it.
func testTransformsOnRefresh(t *testing.T, s *supervisor, email, password string) {
	tokens := s.passwordLogin(t, "/refresh", "dex", email, password)
	if claims := s.verifyIDToken(t, "/refresh", oidcprovider.CLIClientID, tokens.IDToken); !slices.Equal(claims.Groups, []string{"v1:seals", "v1:seals/admins"}) {
		t.Fatalf("groups at login %v", claims.Groups)
	}
	apply := func(prefix, extra string) {
		t.Helper()
		if err := applyYAML(testEnv.Management().Kubeconfig, transformsFDYAML(s.namespace, "refresh", s.issuer("/refresh"), fmt.Sprintf(refreshIdPs, prefix, extra))); err != nil {
			t.Fatal(err)
		}
	}
	apply("v2:", "")
	rt := tokens.RefreshToken
	var warnings []string
	eventually(t, 30*time.Second, "a refresh sees the new groups", func() (bool, error) {
		refreshed, status, body, w := s.refreshWithHeaders(t, "/refresh", rt)
		if status != http.StatusOK {
			t.Fatalf("refresh: %d %s", status, body)
		}
		rt, warnings = refreshed.RefreshToken, w
		groups := s.verifyIDToken(t, "/refresh", oidcprovider.CLIClientID, refreshed.IDToken).Groups
		return slices.Equal(groups, []string{"v2:seals", "v2:seals/admins"}), fmt.Errorf("groups %v", groups)
	})
	added := fmt.Sprintf(`299 - "User \"%s\" has been added to the following groups: [\"v2:seals\" \"v2:seals/admins\"]"`, email)
	if !slices.Contains(warnings, added) {
		t.Errorf("warnings %q, want %q", warnings, added)
	}
	apply("v2:", "      - {type: policy/v1, expression: 'groups.all(g, !g.endsWith(\"/admins\"))', message: no admins today}\n")
	eventually(t, 30*time.Second, "a refresh is refused by the new policy", func() (bool, error) {
		refreshed, status, body, _ := s.refreshWithHeaders(t, "/refresh", rt)
		if status == http.StatusOK {
			rt = refreshed.RefreshToken
			return false, fmt.Errorf("refresh still allowed")
		}
		if status != http.StatusUnauthorized || !strings.Contains(body, `"error":"error"`) || !strings.Contains(body, "Error during upstream refresh.") {
			t.Fatalf("refresh: %d %s, want 401 error", status, body)
		}
		return true, nil
	})
}

// refreshWithHeaders redeems a refresh token for pinniped-cli and returns the Warning
// headers too.
func (s *supervisor) refreshWithHeaders(t testing.TB, path, refreshToken string) (*tokenSet, int, string, []string) {
	t.Helper()
	resp, err := s.client.PostForm(s.issuer(path)+"/oauth2/token", url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {refreshToken}, "client_id": {oidcprovider.CLIClientID}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var tokens tokenSet
	_ = json.Unmarshal(body, &tokens)
	return &tokens, resp.StatusCode, string(body), resp.Header.Values("Warning")
}

// authorizeAny is authorize for requests that may not get a 302: it returns the
// redirect, or nil for any other answer.
func (s *supervisor) authorizeAny(t testing.TB, path string, extra url.Values, username, password string) *url.URL {
	t.Helper()
	p := newPKCE(t)
	q := url.Values{"client_id": {oidcprovider.CLIClientID}, "redirect_uri": {cliRedirect}, "response_type": {"code"},
		"scope": {"openid offline_access pinniped:request-audience username groups"}, "state": {"state-1234567"},
		"code_challenge": {p.challenge}, "code_challenge_method": {"S256"}}
	for k, v := range extra {
		q[k] = v
	}
	req, err := http.NewRequest(http.MethodGet, s.issuer(path)+"/oauth2/authorize?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Pinniped-Username", username)
	req.Header.Set("Pinniped-Password", password)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return nil
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// idpNames lists the names in a domain's IdP discovery.
func (s *supervisor) idpNames(path string) ([]string, error) {
	var doc oidcprovider.IDPDiscovery
	if err := s.getJSON(s.issuer(path)+oidcprovider.PathIDPs, &doc); err != nil {
		return nil, err
	}
	var names []string
	for _, idp := range doc.IdentityProviders {
		names = append(names, idp.Name)
	}
	return names, nil
}

// federationDomain reads a FederationDomain of the supervisor's namespace.
func (s *supervisor) federationDomain(t testing.TB, name string) *configv1alpha1.FederationDomain {
	t.Helper()
	client := supervisorclient.NewForConfigOrDie(adminConfig(t, testEnv.Management().Kubeconfig))
	fd, err := client.ConfigV1alpha1().FederationDomains(s.namespace).Get(testContext(t), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// findCondition finds a condition by type.
func findCondition(conds []metav1.Condition, typ string) metav1.Condition {
	for _, c := range conds {
		if c.Type == typ {
			return c
		}
	}
	return metav1.Condition{}
}
