//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream/github/githubtest"
)

// githubIdPYAML is a GitHubIdentityProvider of the fake f admitting members of acme,
// its client Secret, and a FederationDomain at issuer using it as "my-github".
func githubIdPYAML(ns, issuer string, f *githubtest.Server) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: github-client, namespace: %[1]s}
type: secrets.selkie.dev/github-client
stringData: {clientID: %[2]q, clientSecret: %[3]q}
---
apiVersion: idp.supervisor.selkie.dev/v1alpha1
kind: GitHubIdentityProvider
metadata: {name: github, namespace: %[1]s}
spec:
  githubAPI:
    host: %[4]q
    tls: {certificateAuthorityData: %[5]q}
  allowAuthentication:
    organizations: {allowed: [acme]}
  client: {secretName: github-client}
---
apiVersion: config.supervisor.selkie.dev/v1alpha1
kind: FederationDomain
metadata: {name: fd, namespace: %[1]s}
spec:
  issuer: %[6]q
  identityProviders:
  - displayName: my-github
    objectRef: {apiGroup: idp.supervisor.selkie.dev, kind: GitHubIdentityProvider, name: github}
`, ns, githubtest.ClientID, githubtest.ClientSecret, f.Host(), base64.StdEncoding.EncodeToString(f.CAPEM()), issuer)
}

// TestSupervisorWithGitHub logs in through a GitHubIdentityProvider of a loopback fake
// GitHub with the browser flow, and checks the organization policy and refresh.
func TestSupervisorWithGitHub(t *testing.T) {
	s := startSupervisor(t)
	f := githubtest.Start(t)
	f.SetPageSize(1) // every list takes several pages
	f.AddUser(githubtest.User{Login: "octocat", ID: 583231, Orgs: []string{"other", "acme"}, Teams: []githubtest.Team{
		{Org: "acme", Name: "Platform Admins", Slug: "platform-admins"},
		{Org: "acme", Name: "Devs", Slug: "devs"},
		{Org: "other", Name: "Ops", Slug: "ops"},
	}})
	f.AddUser(githubtest.User{Login: "outsider", ID: 42, Orgs: []string{"other"},
		Teams: []githubtest.Team{{Org: "other", Name: "Ops", Slug: "ops"}}})
	if err := applyYAML(testEnv.Management().Kubeconfig, githubIdPYAML(s.namespace, s.issuer("/fd"), f)); err != nil {
		t.Fatal(err)
	}
	testGitHubStatus(t, s)

	f.LoginAs("octocat")
	tokens := s.githubBrowserLogin(t, f, "/fd", "my-github")
	claims := s.verifyIDToken(t, "/fd", oidcprovider.CLIClientID, tokens.IDToken)
	wantSub := f.APIBase() + "?idpName=my-github&login=octocat&id=583231"
	if claims.Subject != wantSub || claims.Username != "octocat:583231" ||
		!slices.Equal(claims.Groups, []string{"acme/devs", "acme/platform-admins"}) {
		t.Errorf("ID token sub %q username %q groups %v", claims.Subject, claims.Username, claims.Groups)
	}
	if q, _ := url.ParseQuery(f.AuthorizeQueries()[0]); q.Get("scope") != "read:user read:org" || q.Get("client_id") != githubtest.ClientID ||
		q.Get("redirect_uri") != s.issuer("/fd")+"/callback" || q.Get("state") == "" {
		t.Errorf("authorize request to GitHub: %v", q)
	}

	t.Run("user outside the allowed organizations", func(t *testing.T) {
		f.LoginAs("outsider")
		defer f.LoginAs("octocat")
		loc := s.githubBrowserFlow(t, "/fd", "my-github", f, newPKCE(t))
		if loc.Query().Get("error") != "access_denied" || loc.Query().Get("code") != "" {
			t.Errorf("redirect %s, want error=access_denied", loc)
		}
	})

	t.Run("refresh updates groups, a renamed login fails", func(t *testing.T) {
		f.SetTeams("octocat", githubtest.Team{Org: "acme", Name: "Devs", Slug: "devs"}, githubtest.Team{Org: "other", Name: "Ops", Slug: "ops"})
		refreshed, status, header, body := s.ldapRefresh(t, "/fd", tokens.RefreshToken)
		if status != http.StatusOK {
			t.Fatalf("refresh after a team was removed: %d %s", status, body)
		}
		again := s.verifyIDToken(t, "/fd", oidcprovider.CLIClientID, refreshed.IDToken)
		if again.Subject != wantSub || again.Username != "octocat:583231" || !slices.Equal(again.Groups, []string{"acme/devs"}) {
			t.Errorf("refreshed ID token sub %q username %q groups %v", again.Subject, again.Username, again.Groups)
		}
		wantWarning := `299 - "User \"octocat:583231\" has been removed from the following groups: [\"acme/platform-admins\"]"`
		if warnings := header.Values("Warning"); !slices.Contains(warnings, wantWarning) {
			t.Errorf("Warning headers %q, want %q", warnings, wantWarning)
		}

		f.Rename("octocat", "octodog")
		if _, status, _, body := s.ldapRefresh(t, "/fd", refreshed.RefreshToken); status != http.StatusUnauthorized ||
			!strings.Contains(body, "Error during upstream refresh") {
			t.Errorf("refresh after the login was renamed: %d %s, want 401 error", status, body)
		}
	})

	// The supervisor logs at debug level in tests: still no code, token or client secret.
	logs, err := os.ReadFile(s.logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range f.Secrets() {
		if strings.Contains(string(logs), secret) {
			t.Errorf("the supervisor log %s contains a GitHub code, token or client secret", s.logFile)
		}
	}
}

func testGitHubStatus(t *testing.T, s *supervisor) {
	t.Helper()
	var idp idpv1alpha1.GitHubIdentityProvider
	eventually(t, 60*time.Second, "GitHubIdentityProvider github is Ready", func() (bool, error) {
		out, _, err := kubectl(t, "get", "githubidentityprovider.idp.supervisor.selkie.dev", "-n", s.namespace, "github", "-o", "json")
		if err != nil {
			return false, err
		}
		if err := json.Unmarshal([]byte(out), &idp); err != nil {
			return false, err
		}
		return idp.Status.Phase == idpv1alpha1.GitHubPhaseReady, fmt.Errorf("status %+v", idp.Status)
	})
	got := map[string]string{}
	for _, c := range idp.Status.Conditions {
		got[c.Type] = string(c.Status) + " " + c.Reason
	}
	want := map[string]string{}
	for _, typ := range []string{"HostValid", "TLSConfigurationValid", "OrganizationsPolicyValid", "ClientCredentialsSecretValid", "GitHubConnectionValid", "ClaimsValid"} {
		want[typ] = "True Success"
	}
	if !jsonEqual(got, want) {
		t.Errorf("conditions %v, want %v", got, want)
	}
	eventually(t, 60*time.Second, "the FederationDomain lists my-github", func() (bool, error) {
		var doc map[string]any
		err := s.getJSON(s.issuer("/fd")+oidcprovider.PathIDPs, &doc)
		want := []any{map[string]any{"name": "my-github", "type": "github", "flows": []any{"browser_authcode"}}}
		return err == nil && jsonEqual(doc["pinniped_identity_providers"], want), fmt.Errorf("%v %v", doc, err)
	})
}

// githubBrowserFlow drives the authcode flow like a browser: the supervisor sends it to
// the fake's authorize endpoint, which sends it back to the supervisor's callback at
// once. It returns the redirect to the CLI.
func (s *supervisor) githubBrowserFlow(t *testing.T, path, idp string, f *githubtest.Server, p pkce) *url.URL {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.caPEM)
	pool.AppendCertsFromPEM(f.CAPEM())
	jar, _ := cookiejar.New(nil)
	var hops []string
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			hops = append(hops, req.URL.Scheme+"://"+req.URL.Host+req.URL.Path)
			if strings.HasPrefix(req.URL.String(), cliRedirect) {
				return http.ErrUseLastResponse
			}
			return nil
		}}
	q := url.Values{"client_id": {oidcprovider.CLIClientID}, "redirect_uri": {cliRedirect}, "response_type": {"code"},
		"scope": {"openid offline_access pinniped:request-audience username groups"}, "state": {"state-1234567"},
		"nonce": {"nonce-1234567"}, "code_challenge": {p.challenge}, "code_challenge_method": {"S256"}, "pinniped_idp_name": {idp}}
	resp, err := browser.Get(s.issuer(path) + "/oauth2/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantHops := []string{f.URL() + "/login/oauth/authorize", s.issuer(path) + "/callback", "http://127.0.0.1:48095/callback"}
	if resp.StatusCode != http.StatusSeeOther || !slices.Equal(hops, wantHops) {
		t.Fatalf("browser flow: %d at %s via %v, want a 303 to the CLI via %v", resp.StatusCode, resp.Request.URL, hops, wantHops)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func (s *supervisor) githubBrowserLogin(t *testing.T, f *githubtest.Server, path, idp string) *tokenSet {
	t.Helper()
	p := newPKCE(t)
	return s.redeem(t, path, s.githubBrowserFlow(t, path, idp, f, p), p)
}
