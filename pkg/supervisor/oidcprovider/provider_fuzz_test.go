// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/selkie-dev/selkie/pkg/supervisor/keys"
	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// Fuzzed requests run against a provider with the CLI client and one confidential
// client, a password IdP ("corp", the one of newTestProvider), a browser IdP and a
// login-form IdP.
const (
	fuzzAppClientID    = "client.oauth.selkie.dev-fuzz"
	fuzzAppSecret      = "the-app-secret"
	fuzzAppRedirectURI = "https://app.example.com/callback"
	// fuzzSecretMarker starts every fuzzed password and client secret, so that finding
	// one in a response is an echo of it and not a coincidence with the page's text.
	fuzzSecretMarker = "pw~7Hq"
)

// newFuzzProvider is newTestProvider for a testing.TB, with the extra client and IdPs.
func newFuzzProvider(tb testing.TB) *Provider {
	tb.Helper()
	km := &keys.Manager{Secrets: fake.NewClientset().CoreV1().Secrets("sup")}
	set, _, err := km.Reconcile(context.Background(), "jwks", metav1.OwnerReference{})
	if err != nil {
		tb.Fatal(err)
	}
	// Fuzzed secrets start with the marker: the app's secret does too, so that the
	// fuzzer can authenticate the app.
	hash, err := bcrypt.GenerateFromPassword([]byte(fuzzSecretMarker+fuzzAppSecret), bcrypt.MinCost)
	if err != nil {
		tb.Fatal(err)
	}
	app := &Client{ID: fuzzAppClientID, RedirectURIs: []string{fuzzAppRedirectURI},
		GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken, GrantTokenExchange},
		Scopes:     []string{ScopeOpenID, ScopeOfflineAccess, ScopeRequestAudience, ScopeUsername, ScopeGroups}, SecretHashes: [][]byte{hash}}
	key := []byte(strings.Repeat("k", 32))
	p, err := New(Config{Issuer: issuer,
		IdPs: []IdP{{DisplayName: "corp", Provider: &fuzzIdP{fakeIdP{groups: []string{"b", "a"}}}},
			{DisplayName: "browser", Provider: &redirectIdP{}}, {DisplayName: "ldap", Provider: &formIdP{}}},
		Keys: func() *keys.Set { return set }, TokenKey: key, StateSigningKey: key, StateEncryptionKey: key,
		Store: sessionstore.NewMemoryStore(),
		Clients: func(_ context.Context, id string) (*Client, error) {
			if id != fuzzAppClientID {
				return nil, ErrUnknownClient
			}
			return app, nil
		}})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// fuzzIdP is fakeIdP that also accepts alice's password with the fuzz marker in front,
// the only spelling of it a fuzzed password can have.
type fuzzIdP struct{ fakeIdP }

func (f *fuzzIdP) Login(ctx context.Context, u, p string) (*upstream.Identity, error) {
	if p == fuzzSecretMarker+"pw" {
		p = "pw"
	}
	return f.fakeIdP.Login(ctx, u, p)
}

// inRequest reports whether s appears in the request text or in what it parses to:
// whatever the client sent may come back (parameter names are quoted in errors).
func inRequest(s string, texts ...string) bool {
	for _, text := range texts {
		if strings.Contains(text, s) {
			return true
		}
		values, _ := url.ParseQuery(text)
		for k, vs := range values {
			if strings.Contains(k, s) || slices.ContainsFunc(vs, func(v string) bool { return strings.Contains(v, s) }) {
				return true
			}
		}
	}
	return false
}

// leaks returns where w's answer contains secret, or "".
func leaks(w *httptest.ResponseRecorder, secret string) string {
	if strings.Contains(w.Body.String(), secret) {
		return "body"
	}
	for name, values := range w.Header() {
		for _, v := range values {
			if strings.Contains(v, secret) {
				return "header " + name
			}
			if u, err := url.QueryUnescape(v); err == nil && strings.Contains(u, secret) {
				return "header " + name + " (unescaped)"
			}
		}
	}
	return ""
}

// FuzzTokenRequest posts fuzzed forms with fuzzed client authentication to the token
// endpoint. "$CODE", "$AT" and "$RT" in the form are replaced by a fresh authorization
// code, access token and refresh token of a real login, so that the grants are reached.
//
// Properties:
//   - the endpoint never panics;
//   - the status is one of 200, 400, 401, 429 and 500, so that a client can always tell
//     a refusal from a success and never sees a redirect or an HTML page;
//   - every non-200 answer is a JSON object with a non-empty string "error" (RFC 6749
//     §5.2), every 200 a JSON object, and every answer says Cache-Control: no-store;
//   - no answer contains the password or client secret sent, in its body or headers,
//     which protects against credentials echoed into logs, caches or pages.
func FuzzTokenRequest(f *testing.F) {
	p := newFuzzProvider(f)
	type seed struct {
		form, authorization, clientID, secret string
		mode                                  uint8
	}
	for _, s := range []seed{
		{"grant_type=refresh_token&refresh_token=$RT&client_id=pinniped-cli", "", "", "", 0},
		{"grant_type=authorization_code&code=$CODE&redirect_uri=http%3A%2F%2F127.0.0.1%3A1234%2Fcallback&code_verifier=" + verifier + "&client_id=pinniped-cli", "", "", "", 0},
		{"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&client_id=pinniped-cli&audience=cluster-a&subject_token=$AT" +
			"&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt", "", "", "", 0},
		{"grant_type=refresh_token&refresh_token=$RT", "", fuzzAppClientID, fuzzAppSecret, 1},
		{"grant_type=refresh_token&refresh_token=$RT", "", fuzzAppClientID, "wrong", 1},
		{"grant_type=refresh_token&refresh_token=sel_rt_x.y", "", fuzzAppClientID, "", 2},
		{"grant_type=password&username=alice&password=pw", "Basic cGlubmlwZWQtY2xpOg==", "", "", 3},
		{"grant_type=refresh_token&refresh_token=a&refresh_token=b", "Basic %%%", "pinniped-cli", "s", 1},
		{"%zz=1&grant_type", "Bearer abc", "", "", 3},
		{"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=sel_dc_" + strings.Repeat("a", 26) + ".x&client_id=pinniped-cli", "", "", "", 0},
		{"", "", "", "", 0},
		{"client_id=" + fuzzAppClientID + "&grant_type=authorization_code", "", "", "secret with spaces & = %", 2},
	} {
		f.Add(s.form, s.authorization, s.clientID, s.secret, s.mode)
	}
	f.Fuzz(func(t *testing.T, form, authorization, clientID, password string, mode uint8) {
		for placeholder, kind := range map[string]string{"$CODE": "code", "$AT": "access_token", "$RT": "refresh_token"} {
			if strings.Contains(form, placeholder) {
				form = strings.ReplaceAll(form, placeholder, url.QueryEscape(fuzzLoginToken(t, p, kind)))
			}
		}
		secret := fuzzSecretMarker + password
		sentSecret := false
		r := httptest.NewRequest(http.MethodPost, issuer+PathToken, strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		switch mode % 4 {
		case 1:
			// The client authenticates with client_secret_basic and the fuzzed client ID.
			r.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
			sentSecret = true
		case 2:
			// The client sends client_secret_post, which the provider refuses.
			body := form + "&client_secret=" + url.QueryEscape(secret)
			r = httptest.NewRequest(http.MethodPost, issuer+PathToken, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			sentSecret = true
		case 3:
			// The client sends any Authorization header.
			r.Header.Set("Authorization", authorization)
		}
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)

		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized, http.StatusTooManyRequests, http.StatusInternalServerError:
		default:
			t.Fatalf("status %d is not one the token endpoint may answer: %s", w.Code, w.Body)
		}
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("status %d with a body that is not a JSON object: %v: %q", w.Code, err, w.Body)
		}
		if w.Code != http.StatusOK {
			if e, _ := body["error"].(string); e == "" {
				t.Errorf("status %d without an error code: %s", w.Code, w.Body)
			}
		}
		if got := w.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", got)
		}
		if sentSecret && !inRequest(secret, form, clientID) {
			if where := leaks(w, secret); where != "" {
				t.Errorf("the client secret %q comes back in the %s: %s", secret, where, w.Body)
			}
		}
	})
}

// fuzzLoginToken logs alice in with the CLI password flow and returns a fresh token of
// kind: "code" (not redeemed), "access_token" or "refresh_token".
func fuzzLoginToken(t *testing.T, p *Provider, kind string) string {
	t.Helper()
	w := doAuthorize(p, authorizeParams(), "alice", "pw")
	loc, err := url.Parse(w.Header().Get("Location"))
	code := ""
	if err == nil {
		code = loc.Query().Get("code")
	}
	if w.Code != http.StatusFound || code == "" {
		t.Fatalf("authorize: %d %s", w.Code, w.Header().Get("Location"))
	}
	if kind == "code" {
		return code
	}
	status, body := doToken(p, url.Values{"grant_type": {GrantAuthorizationCode}, "code": {code},
		"redirect_uri": {"http://127.0.0.1:1234/callback"}, "code_verifier": {verifier}, "client_id": {CLIClientID}})
	token, _ := body[kind].(string)
	if status != http.StatusOK || token == "" {
		t.Fatalf("code exchange: %d %v", status, body)
	}
	return token
}

// formPostRedirect finds the redirect URI of a form_post page.
var formPostRedirect = regexp.MustCompile(`name="redirect_uri" value="([^"]*)"`)

// allowedTarget reports why target is not somewhere the authorization endpoint may send
// a browser or a CLI, or "": a redirect URI registered for a client (a loopback http
// URI on any port, or the confidential client's exact https URI), an endpoint of the
// issuer, or the browser IdP's authorization endpoint.
func allowedTarget(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return "does not parse: " + err.Error()
	}
	if u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return "has user info, a fragment or an opaque part"
	}
	switch {
	case u.Scheme == "http" && u.Host != "" && u.Hostname() == "127.0.0.1" && u.Path == "/callback":
		return ""
	case u.Scheme == "https" && u.Host == "app.example.com" && u.Path == "/callback":
		return ""
	case u.Scheme == "https" && u.Host == "id.example.com" && strings.HasPrefix(u.Path, "/fd/"):
		return ""
	case u.Scheme == "https" && u.Host == "upstream.example.com" && u.Path == "/authorize":
		return ""
	}
	return "is neither a registered redirect URI, nor the issuer, nor the upstream"
}

// FuzzAuthorizeRequest sends fuzzed authorization requests (raw query, optional
// username and password headers of the CLI password flow).
//
// Properties:
//   - the endpoint never panics;
//   - the status is one of 200 (form_post page), 302, 303, 400, 401, 403, 404 and 429;
//   - a redirect, and the target of a form_post page, is only ever a redirect URI
//     registered for a client, an endpoint of the issuer or the configured upstream's
//     authorization endpoint, which protects against open redirects that would hand
//     codes or errors to an attacker's site;
//   - an authorization code is only issued, and a session only stored, for the right
//     username and password, which protects against logins without credentials;
//   - the password never comes back in the answer.
func FuzzAuthorizeRequest(f *testing.F) {
	p := newFuzzProvider(f)
	valid := authorizeParams()
	browser := authorizeParams()
	browser.Set(paramIDPName, "browser")
	formPost := authorizeParams()
	formPost.Set("response_mode", "form_post")
	formPost.Set(paramIDPName, "browser")
	formPost.Set("scope", "openid admin")
	app := authorizeParams()
	app.Set("client_id", fuzzAppClientID)
	app.Set("redirect_uri", fuzzAppRedirectURI)
	app.Set(paramIDPName, "ldap")
	chooser := authorizeParams()
	chooser.Del(paramIDPName)
	for _, s := range []struct {
		query, username, password string
		headers                   uint8
	}{
		{valid.Encode(), "alice", "pw", 3},
		{valid.Encode(), "alice", "wrong", 3},
		{valid.Encode(), "", "", 0},
		{browser.Encode(), "", "", 0},
		{formPost.Encode(), "", "", 0},
		{app.Encode(), "alice", "pw", 1},
		{app.Encode(), "", "", 0},
		{chooser.Encode(), "", "", 0},
		{strings.Replace(valid.Encode(), "127.0.0.1%3A1234", "evil.example.com", 1), "alice", "pw", 3},
		{strings.Replace(valid.Encode(), "127.0.0.1%3A1234", "127.0.0.1%40evil.example.com", 1), "", "", 0},
		{strings.Replace(valid.Encode(), "%2Fcallback", "%2Fcallback%23frag", 1), "", "", 0},
		{"client_id=pinniped-cli&redirect_uri=http://127.0.0.1:1/callback&state=%zz", "", "", 0},
		{"a=1&a=2", "", "", 0},
		{"", "alice", "", 1},
	} {
		f.Add(s.query, s.username, s.password, s.headers)
	}
	f.Fuzz(func(t *testing.T, query, username, password string, headers uint8) {
		secret := fuzzSecretMarker + password
		r := httptest.NewRequest(http.MethodGet, issuer+PathAuthorize, nil)
		r.URL.RawQuery = query
		if headers&1 != 0 {
			r.Header.Set(headerUsername, username)
		}
		if headers&2 != 0 {
			r.Header.Set(headerPassword, secret)
		}
		before, err := p.cfg.Store.List(context.Background(), sessionstore.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)
		after, err := p.cfg.Store.List(context.Background(), sessionstore.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		goodLogin := headers&3 == 3 && username == "alice" && secret == fuzzSecretMarker+"pw"

		switch w.Code {
		case http.StatusFound, http.StatusSeeOther:
			loc := w.Header().Get("Location")
			if why := allowedTarget(loc); why != "" {
				t.Fatalf("%d to %q, which %s", w.Code, loc, why)
			}
			if u, _ := url.Parse(loc); u != nil && u.Query().Get("code") != "" && !goodLogin {
				t.Errorf("a code was issued without the right username and password: %q", loc)
			}
		case http.StatusOK:
			if m := formPostRedirect.FindStringSubmatch(w.Body.String()); m != nil {
				if why := allowedTarget(html.UnescapeString(m[1])); why != "" {
					t.Fatalf("form_post to %q, which %s", m[1], why)
				}
			}
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests:
		default:
			t.Fatalf("status %d is not one the authorization endpoint may answer: %s", w.Code, w.Body)
		}
		if len(after) != len(before) && !goodLogin {
			t.Errorf("the request stored %d sessions without the right username and password", len(after)-len(before))
		}
		if headers&2 != 0 && !inRequest(secret, query, username) {
			if where := leaks(w, secret); where != "" {
				t.Errorf("the password %q comes back in the %s", secret, where)
			}
		}
	})
}
