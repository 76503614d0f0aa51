// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// redirectIdP is a browser-flow upstream that accepts one code.
type redirectIdP struct{ fakeIdP }

func (r *redirectIdP) Flows() []string { return []string{upstream.FlowBrowserAuthcode} }
func (r *redirectIdP) AuthorizeURL(req upstream.AuthorizeRequest) string {
	return "https://upstream.example.com/authorize?" + url.Values{"state": {req.State}, "nonce": {req.Nonce},
		"code_challenge": {req.CodeChallenge}, "redirect_uri": {req.RedirectURI}}.Encode()
}
func (r *redirectIdP) ExchangeCode(_ context.Context, code, verifier, nonce, redirectURI string) (*upstream.Identity, error) {
	if code != "good-code" || s256(verifier) == "" || nonce == "" || redirectURI != issuer+PathCallback {
		return nil, upstream.ErrBadCredentials
	}
	return &upstream.Identity{Subject: "s1", Username: "alice"}, nil
}

func newBrowserProvider(t *testing.T) *Provider {
	t.Helper()
	p, _ := newTestProvider(t)
	p.cfg.IdPs = []IdP{{DisplayName: "corp", Provider: &redirectIdP{}}, {DisplayName: "other", Provider: &redirectIdP{}}}
	return p
}

// startBrowserLogin sends the authorization request and returns the upstream state and
// the CSRF cookie.
func startBrowserLogin(t *testing.T, p *Provider, q url.Values) (string, *http.Cookie) {
	t.Helper()
	w := httptest.NewRecorder()
	p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, issuer+PathAuthorize+"?"+q.Encode(), nil))
	if w.Code != http.StatusSeeOther {
		t.Fatalf("authorize: %d %s", w.Code, w.Body)
	}
	loc, _ := url.Parse(w.Header().Get("Location"))
	cookies := w.Result().Cookies()
	if loc.Host != "upstream.example.com" || len(cookies) != 1 || !cookies[0].HttpOnly || !cookies[0].Secure || cookies[0].SameSite != http.SameSiteNoneMode {
		t.Fatalf("redirect %s cookies %+v", loc, cookies)
	}
	return loc.Query().Get("state"), cookies[0]
}

func callback(p *Provider, query string, cookie *http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, issuer+PathCallback+"?"+query, nil)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r)
	return w
}

func TestBrowserFlow(t *testing.T) {
	p := newBrowserProvider(t)
	state, cookie := startBrowserLogin(t, p, authorizeParams())
	w := callback(p, url.Values{"state": {state}, "code": {"good-code"}}.Encode(), cookie)
	loc, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc.String(), "http://127.0.0.1:1234/callback?") || loc.Query().Get("code") == "" || loc.Query().Get("state") != "12345678" {
		t.Fatalf("callback: %d %s", w.Code, loc)
	}

	q := authorizeParams()
	q.Set("response_mode", "form_post")
	state, cookie = startBrowserLogin(t, p, q)
	w = callback(p, url.Values{"state": {state}, "code": {"good-code"}}.Encode(), cookie)
	body := w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(body, `name="redirect_uri" value="http://127.0.0.1:1234/callback"`) ||
		!strings.Contains(body, `name="encoded_params" value="code=sel_ac_`) || !strings.Contains(w.Header().Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("form_post page: %d %s\n%s", w.Code, w.Header(), body)
	}
}

func TestCallbackBadInput(t *testing.T) {
	p := newBrowserProvider(t)
	state, cookie := startBrowserLogin(t, p, authorizeParams())
	otherDomain := newBrowserProvider(t)
	otherKey := []byte(strings.Repeat("o", 32))
	var err error
	if otherDomain.state, err = newStateCodec(otherKey, otherKey); err != nil {
		t.Fatal(err)
	}
	other, otherCookie := startBrowserLogin(t, otherDomain, authorizeParams())
	_, secondCookie := startBrowserLogin(t, p, authorizeParams()) // a new browser: a new CSRF value
	for _, tc := range []struct {
		name       string
		query      string
		cookie     *http.Cookie
		wantStatus int
		wantBody   string
	}{
		{"no state", "code=good-code", cookie, http.StatusBadRequest, "state param not found"},
		{"no cookie", "state=" + url.QueryEscape(state) + "&code=good-code", nil, http.StatusForbidden, "CSRF cookie is missing"},
		{"malformed state", "state=garbage&code=good-code", cookie, http.StatusBadRequest, "error reading state"},
		{"state sealed by another domain", "state=" + url.QueryEscape(other) + "&code=good-code", cookie, http.StatusBadRequest, "error reading state"},
		{"cookie of another domain", "state=" + url.QueryEscape(state) + "&code=good-code", otherCookie, http.StatusForbidden, "CSRF value does not match"},
		{"cookie of another login", "state=" + url.QueryEscape(state) + "&code=good-code", secondCookie, http.StatusForbidden, "CSRF value does not match"},
		{"no code", "state=" + url.QueryEscape(state), cookie, http.StatusBadRequest, "code param not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := callback(p, tc.query, tc.cookie)
			if w.Code != tc.wantStatus || !strings.Contains(w.Body.String(), tc.wantBody) {
				t.Errorf("got %d %q, want %d %q", w.Code, w.Body, tc.wantStatus, tc.wantBody)
			}
		})
	}
	t.Run("upstream refuses the code", func(t *testing.T) {
		w := callback(p, url.Values{"state": {state}, "code": {"bad-code"}}.Encode(), cookie)
		loc, _ := url.Parse(w.Header().Get("Location"))
		if w.Code != http.StatusSeeOther || loc.Query().Get("error") != errAccessDenied {
			t.Errorf("got %d %s, want a 303 with access_denied", w.Code, loc)
		}
	})
}

func TestChooser(t *testing.T) {
	p := newBrowserProvider(t)
	q := authorizeParams()
	q.Del("pinniped_idp_name")
	w := httptest.NewRecorder()
	p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, issuer+PathAuthorize+"?"+q.Encode(), nil))
	loc := w.Header().Get("Location")
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, issuer+PathChooseIDP+"?") {
		t.Fatalf("authorize without an IdP: %d %s", w.Code, loc)
	}
	w = httptest.NewRecorder()
	p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, loc, nil))
	body := w.Body.String()
	corp, other := strings.Index(body, "pinniped_idp_name=corp"), strings.Index(body, "pinniped_idp_name=other")
	if w.Code != http.StatusOK || corp < 0 || other < corp {
		t.Errorf("chooser: %d\n%s", w.Code, body)
	}
	w = httptest.NewRecorder()
	p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, issuer+PathChooseIDP+"?client_id=pinniped-cli", nil))
	if w.Code != http.StatusBadRequest {
		t.Errorf("chooser without the required parameters: %d", w.Code)
	}
}
