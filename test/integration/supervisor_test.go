//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/go-cmp/cmp"

	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
)

// cliRedirect is the CLI's loopback callback; nothing listens there, the tests read the
// redirect instead.
const cliRedirect = "http://127.0.0.1:48095/callback"

// TestSupervisorWithDex logs in through a supervisor federating Dex, in a domain that
// names its IdP (fd1) and one in legacy mode (fd2), and checks every token operation.
func TestSupervisorWithDex(t *testing.T) {
	s := startSupervisor(t)
	ns := s.namespace
	manifest := dexIdPYAML(ns, "dex", true) + "---\n" + federationDomainYAML(ns, "fd1", s.issuer("/fd1"), "dex") +
		"---\n" + federationDomainYAML(ns, "fd2", s.issuer("/fd2"))
	if err := applyYAML(testEnv.Management().Kubeconfig, manifest); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/fd1", "/fd2"} {
		eventually(t, 60*time.Second, "FederationDomain "+path+" lists Dex", func() (bool, error) {
			var doc oidcprovider.IDPDiscovery
			err := s.getJSON(s.issuer(path)+oidcprovider.PathIDPs, &doc)
			return err == nil && len(doc.IdentityProviders) == 1, err
		})
	}
	user := testEnv.Users[0]
	t.Run("discovery", func(t *testing.T) { testSupervisorDiscovery(t, s) })
	t.Run("password flow, refresh, exchange", func(t *testing.T) {
		tokens := s.passwordLogin(t, "/fd1", "dex", user.Email, user.Password)
		testSupervisorTokens(t, s, "/fd1", tokens, user.Email, user.Groups)
	})
	t.Run("legacy mode", func(t *testing.T) {
		tokens := s.passwordLogin(t, "/fd2", "", user.Email, user.Password)
		claims := s.verifyIDToken(t, "/fd2", oidcprovider.CLIClientID, tokens.IDToken)
		if want := testEnv.Dex.Issuer + "?idpName=dex&sub="; !strings.HasPrefix(claims.Subject, want) {
			t.Errorf("sub %q, want prefix %q", claims.Subject, want)
		}
	})
	t.Run("browser authcode", func(t *testing.T) {
		tokens := s.browserLogin(t, "/fd1", "dex", user.Email, user.Password)
		testSupervisorTokens(t, s, "/fd1", tokens, user.Email, user.Groups)
	})
	t.Run("replayed code ends the session", func(t *testing.T) {
		tokens := s.passwordLogin(t, "/fd1", "dex", user.Email, user.Password)
		if _, status, body := s.tokenRequest(t, "/fd1", tokens.code); status != http.StatusBadRequest || !strings.Contains(body, "invalid_grant") {
			t.Errorf("replayed code: %d %s, want 400 invalid_grant", status, body)
		}
		refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken}, "client_id": {oidcprovider.CLIClientID}}
		if _, status, _ := s.tokenRequest(t, "/fd1", refresh); status != http.StatusBadRequest {
			t.Errorf("refresh after a replayed code: %d, want 400", status)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		loc := s.authorize(t, "/fd1", url.Values{"pinniped_idp_name": {"dex"}}, user.Email, "wrong", newPKCE(t))
		if loc.Query().Get("error") != "access_denied" || loc.Query().Get("code") != "" {
			t.Errorf("redirect %s, want error=access_denied and no code", loc)
		}
	})
}

func testSupervisorDiscovery(t *testing.T, s *supervisor) {
	for _, path := range []string{"/fd1", "/fd2"} {
		issuer := s.issuer(path)
		var got map[string]any
		if err := s.getJSON(issuer+"/.well-known/openid-configuration", &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"issuer": issuer, "authorization_endpoint": issuer + "/oauth2/authorize", "token_endpoint": issuer + "/oauth2/token",
			"jwks_uri": issuer + "/jwks.json", "revocation_endpoint": issuer + "/oauth2/revoke",
			"response_types_supported": []any{"code"}, "response_modes_supported": []any{"query", "form_post"},
			"subject_types_supported": []any{"public"}, "id_token_signing_alg_values_supported": []any{"ES256"},
			"token_endpoint_auth_methods_supported": []any{"client_secret_basic"},
			"scopes_supported":                      []any{"openid", "offline_access", "pinniped:request-audience", "username", "groups"},
			"claims_supported":                      []any{"username", "groups", "additionalClaims"},
			"code_challenge_methods_supported":      []any{"S256"},
			"device_authorization_endpoint":         issuer + "/oauth2/device_authorization",
			"grant_types_supported": []any{"authorization_code", "refresh_token",
				"urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:device_code"},
			"discovery.supervisor.pinniped.dev/v1alpha1": map[string]any{
				"pinniped_identity_providers_endpoint": issuer + "/v1alpha1/pinniped_identity_providers"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("discovery of %s (-want +got):\n%s", path, diff)
		}
		var idps map[string]any
		if err := s.getJSON(issuer+"/v1alpha1/pinniped_identity_providers", &idps); err != nil {
			t.Fatal(err)
		}
		wantIDPs := map[string]any{
			"pinniped_identity_providers": []any{map[string]any{"name": "dex", "type": "oidc", "flows": []any{"browser_authcode", "cli_password"}}},
			"pinniped_supported_identity_provider_types": []any{map[string]any{"type": "activedirectory"}, map[string]any{"type": "github"},
				map[string]any{"type": "ldap"}, map[string]any{"type": "oidc"}},
		}
		if diff := cmp.Diff(wantIDPs, idps); diff != "" {
			t.Errorf("IdP discovery of %s (-want +got):\n%s", path, diff)
		}
		var jwks struct {
			Keys []map[string]any `json:"keys"`
		}
		if err := s.getJSON(issuer+"/jwks.json", &jwks); err != nil {
			t.Fatal(err)
		}
		if len(jwks.Keys) != 1 || jwks.Keys[0]["alg"] != "ES256" || jwks.Keys[0]["crv"] != "P-256" || jwks.Keys[0]["use"] != "sig" || jwks.Keys[0]["kid"] == "" {
			t.Errorf("JWKS of %s: %v", path, jwks.Keys)
		}
		resp, err := s.client.Post(issuer+"/.well-known/openid-configuration", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST discovery: %d, want 405", resp.StatusCode)
		}
	}
}

// testSupervisorTokens checks the ID token, refresh (with replay detection) and token
// exchange for a fresh login.
func testSupervisorTokens(t *testing.T, s *supervisor, path string, tokens *tokenSet, username string, groups []string) {
	claims := s.verifyIDToken(t, path, oidcprovider.CLIClientID, tokens.IDToken)
	wantGroups := slices.Clone(groups)
	slices.Sort(wantGroups)
	if claims.Username != username || !slices.Equal(claims.Groups, wantGroups) {
		t.Errorf("ID token username %q groups %v, want %q %v", claims.Username, claims.Groups, username, wantGroups)
	}
	refreshed, status, body := s.tokenRequest(t, path, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken}, "client_id": {oidcprovider.CLIClientID}})
	if status != http.StatusOK || refreshed.IDToken == "" || refreshed.RefreshToken == "" || refreshed.RefreshToken == tokens.RefreshToken {
		t.Fatalf("refresh: %d %s", status, body)
	}
	again := s.verifyIDToken(t, path, oidcprovider.CLIClientID, refreshed.IDToken)
	if again.Subject != claims.Subject || again.AuthTime != claims.AuthTime {
		t.Errorf("refreshed ID token sub %q auth_time %d, want %q %d", again.Subject, again.AuthTime, claims.Subject, claims.AuthTime)
	}
	exchanged, status, body := s.tokenRequest(t, path, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"client_id": {oidcprovider.CLIClientID}, "audience": {"cluster-a"}, "subject_token": {refreshed.AccessToken},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}, "requested_token_type": {"urn:ietf:params:oauth:token-type:jwt"}})
	if status != http.StatusOK {
		t.Fatalf("token exchange: %d %s", status, body)
	}
	cluster := s.verifyIDToken(t, path, "cluster-a", exchanged.AccessToken)
	if cluster.Username != username || cluster.Subject != claims.Subject {
		t.Errorf("cluster token %+v", cluster)
	}
	if _, err := s.verifier(t, path, "cluster-b").Verify(context.Background(), exchanged.AccessToken); err == nil {
		t.Error("the cluster-a token verified for audience cluster-b")
	}
	// Replaying the first refresh token ends the session: the current one fails too.
	if _, status, _ := s.tokenRequest(t, path, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken}, "client_id": {oidcprovider.CLIClientID}}); status != http.StatusBadRequest {
		t.Errorf("replayed refresh token: %d, want 400", status)
	}
	if _, status, body := s.tokenRequest(t, path, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshed.RefreshToken}, "client_id": {oidcprovider.CLIClientID}}); status != http.StatusBadRequest {
		t.Errorf("refresh after a replay: %d %s, want the session ended", status, body)
	}
}

type tokenSet struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	// code is the form that redeemed the authorization code.
	code url.Values
}

type pkce struct{ verifier, challenge string }

func newPKCE(t testing.TB) pkce {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	v := base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(v))
	return pkce{verifier: v, challenge: base64.RawURLEncoding.EncodeToString(sum[:])}
}

// authorize sends the CLI's authorization request with username and password headers
// and returns where the supervisor redirects (which must be a 302).
func (s *supervisor) authorize(t testing.TB, path string, extra url.Values, username, password string, p pkce) *url.URL {
	t.Helper()
	q := url.Values{"client_id": {oidcprovider.CLIClientID}, "redirect_uri": {cliRedirect}, "response_type": {"code"},
		"scope": {"openid offline_access pinniped:request-audience username groups"}, "state": {"state-1234567"},
		"nonce": {"nonce-1234567"}, "code_challenge": {p.challenge}, "code_challenge_method": {"S256"}, "access_type": {"offline"}}
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
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d %s, want 302", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func (s *supervisor) passwordLogin(t testing.TB, path, idp, username, password string) *tokenSet {
	t.Helper()
	p := newPKCE(t)
	extra := url.Values{}
	if idp != "" {
		extra.Set("pinniped_idp_name", idp)
	}
	loc := s.authorize(t, path, extra, username, password, p)
	return s.redeem(t, path, loc, p)
}

// redeem checks the redirect to the CLI and exchanges its code.
func (s *supervisor) redeem(t testing.TB, path string, loc *url.URL, p pkce) *tokenSet {
	t.Helper()
	q := loc.Query()
	if !strings.HasPrefix(loc.String(), cliRedirect+"?") || q.Get("code") == "" || q.Get("state") != "state-1234567" {
		t.Fatalf("redirect %s, want %s with a code and the state", loc, cliRedirect)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {cliRedirect},
		"code_verifier": {p.verifier}, "client_id": {oidcprovider.CLIClientID}}
	tokens, status, body := s.tokenRequest(t, path, form)
	if status != http.StatusOK || tokens.AccessToken == "" || tokens.IDToken == "" || tokens.RefreshToken == "" || tokens.TokenType != "bearer" {
		t.Fatalf("code exchange: %d %s", status, body)
	}
	tokens.code = form
	return tokens
}

func (s *supervisor) tokenRequest(t testing.TB, path string, form url.Values) (*tokenSet, int, string) {
	t.Helper()
	resp, err := s.client.PostForm(s.issuer(path)+"/oauth2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var tokens tokenSet
	_ = json.Unmarshal(body, &tokens)
	return &tokens, resp.StatusCode, string(body)
}

func (s *supervisor) getJSON(u string, v any) error {
	resp, err := s.client.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", u, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

type supervisorClaims struct {
	Subject  string   `json:"sub"`
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
	AuthTime int64    `json:"auth_time"`
}

func (s *supervisor) verifier(t testing.TB, path, audience string) *oidc.IDTokenVerifier {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), s.client)
	provider, err := oidc.NewProvider(ctx, s.issuer(path))
	if err != nil {
		t.Fatal(err)
	}
	return provider.VerifierContext(ctx, &oidc.Config{ClientID: audience, SupportedSigningAlgs: []string{"ES256"}})
}

func (s *supervisor) verifyIDToken(t testing.TB, path, audience, raw string) supervisorClaims {
	t.Helper()
	token, err := s.verifier(t, path, audience).Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("verify ID token for %s: %v", audience, err)
	}
	var c supervisorClaims
	if err := token.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// browserLogin drives the authcode flow the way a browser would, without one: it
// follows redirects with a cookie jar and fills in Dex's login form over HTTP.
func (s *supervisor) browserLogin(t *testing.T, path, idp, username, password string) *tokenSet {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.caPEM)
	dexCA, err := os.ReadFile(testEnv.CABundle)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(dexCA)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), cliRedirect) {
				return http.ErrUseLastResponse
			}
			return nil
		}}
	p := newPKCE(t)
	q := url.Values{"client_id": {oidcprovider.CLIClientID}, "redirect_uri": {cliRedirect}, "response_type": {"code"},
		"scope": {"openid offline_access pinniped:request-audience username groups"}, "state": {"state-1234567"},
		"nonce": {"nonce-1234567"}, "code_challenge": {p.challenge}, "code_challenge_method": {"S256"}, "pinniped_idp_name": {idp}}
	resp, err := browser.Get(s.issuer(path) + "/oauth2/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	action := regexp.MustCompile(`(?s)<form[^>]*method="post"[^>]*action="([^"]+)"`).FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || action == nil {
		t.Fatalf("expected Dex's login form at %s, got %d:\n%s", resp.Request.URL, resp.StatusCode, page)
	}
	target, err := resp.Request.URL.Parse(strings.ReplaceAll(string(action[1]), "&amp;", "&"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = browser.PostForm(target.String(), url.Values{"login": {username}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after Dex's login form: %d at %s, want a 303 to the CLI", resp.StatusCode, resp.Request.URL)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return s.redeem(t, path, loc, p)
}
