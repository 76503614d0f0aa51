// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// formIdP is an LDAP-like upstream: it checks passwords itself and offers the browser
// flow through the login form. The user "broken" makes the upstream fail.
type formIdP struct{ fakeIdP }

func (f *formIdP) Type() string { return upstream.TypeLDAP }
func (f *formIdP) Flows() []string {
	return []string{upstream.FlowCLIPassword, upstream.FlowBrowserAuthcode}
}
func (f *formIdP) Login(ctx context.Context, u, p string) (*upstream.Identity, error) {
	if u == "broken" {
		return nil, errors.New("ldap: connection refused")
	}
	return f.fakeIdP.Login(ctx, u, p)
}

func newFormProvider(t *testing.T) *Provider {
	t.Helper()
	p, _ := newTestProvider(t)
	p.cfg.IdPs = []IdP{{DisplayName: "corp", Provider: &redirectIdP{}}, {DisplayName: "ldap", Provider: &formIdP{}}}
	return p
}

func formParams() url.Values {
	q := authorizeParams()
	q.Set("pinniped_idp_name", "ldap")
	return q
}

// startFormLogin sends a browser's authorization request and returns the state of the
// redirect to the login form and the CSRF cookie.
func startFormLogin(t *testing.T, p *Provider, q url.Values) (string, *http.Cookie) {
	t.Helper()
	w := httptest.NewRecorder()
	p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, issuer+PathAuthorize+"?"+q.Encode(), nil))
	loc, _ := url.Parse(w.Header().Get("Location"))
	cookies := w.Result().Cookies()
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc.String(), issuer+PathLogin+"?state=") || len(loc.Query()) != 1 ||
		len(cookies) != 1 || cookies[0].Name != csrfCookie || !cookies[0].HttpOnly || !cookies[0].Secure {
		t.Fatalf("authorize: %d %s cookies %+v\n%s", w.Code, loc, cookies, w.Body)
	}
	return loc.Query().Get("state"), cookies[0]
}

func loginGET(p *Provider, query string, cookie *http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, issuer+PathLogin+"?"+query, nil)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r)
	return w
}

func loginPOST(p *Provider, form url.Values, cookie *http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, issuer+PathLogin, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cookie != nil {
		r.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r)
	return w
}

var hiddenState = regexp.MustCompile(`<input type="hidden" name="state" value="([^"]+)">`)

func TestLoginFormFlow(t *testing.T) {
	p := newFormProvider(t)
	state, cookie := startFormLogin(t, p, formParams())

	w := loginGET(p, url.Values{"state": {state}}.Encode(), cookie)
	body := w.Body.String()
	m := hiddenState.FindStringSubmatch(body)
	if w.Code != http.StatusOK || !strings.Contains(body, `<form method="post" action="/fd/login">`) || m == nil || m[1] != state ||
		!strings.Contains(body, `name="username"`) || !strings.Contains(body, `name="password" type="password"`) ||
		strings.Contains(body, `role="alert"`) || !strings.Contains(w.Header().Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("login page: %d %v\n%s", w.Code, w.Header(), body)
	}

	for _, tc := range []struct {
		name, username, password, wantErr, wantAlert string
	}{
		{"wrong password", "alice", "wrong", "incorrect_username_or_password", "Incorrect username or password."},
		{"unknown user", "mallory", "pw", "incorrect_username_or_password", "Incorrect username or password."},
		{"empty password", "alice", "", "incorrect_username_or_password", "Incorrect username or password."},
		{"blank username", "  ", "pw", "incorrect_username_or_password", "Incorrect username or password."},
		{"upstream failure", "broken", "pw", "internal_error", "An internal error occurred."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := loginPOST(p, url.Values{"state": {state}, "username": {tc.username}, "password": {tc.password}}, cookie)
			want := issuer + PathLogin + "?" + url.Values{"err": {tc.wantErr}, "state": {state}}.Encode()
			if w.Code != http.StatusSeeOther || w.Header().Get("Location") != want {
				t.Fatalf("POST: %d %s, want a 303 to %s", w.Code, w.Header().Get("Location"), want)
			}
			if !strings.HasPrefix(w.Header().Get("Location"), issuer+PathLogin+"?err="+tc.wantErr+"&state=") {
				t.Errorf("Location %s", w.Header().Get("Location"))
			}
			page := loginGET(p, strings.SplitN(w.Header().Get("Location"), "?", 2)[1], cookie).Body.String()
			// The password must not be echoed into the form. (Matching only `pw"` found it at
			// the end of the random state value now and then.)
			if !strings.Contains(page, tc.wantAlert) || tc.password != "" && strings.Contains(page, `value="`+tc.password+`"`) {
				t.Errorf("login page after the error:\n%s", page)
			}
		})
	}

	w = loginPOST(p, url.Values{"state": {state}, "username": {"alice"}, "password": {"pw"}}, cookie)
	loc, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc.String(), "http://127.0.0.1:1234/callback?") || loc.Query().Get("state") != "12345678" {
		t.Fatalf("POST: %d %s", w.Code, loc)
	}
	status, tokens := doToken(p, url.Values{"grant_type": {GrantAuthorizationCode}, "code": {loc.Query().Get("code")},
		"redirect_uri": {"http://127.0.0.1:1234/callback"}, "code_verifier": {verifier}, "client_id": {CLIClientID}})
	if status != http.StatusOK || tokens["id_token"] == nil || tokens["refresh_token"] == nil {
		t.Fatalf("code exchange: %d %v", status, tokens)
	}
	sessions, _ := p.cfg.Store.List(context.Background(), sessionstore.ListOptions{})
	if len(sessions) != 1 || sessions[0].Username != "alice" || sessions[0].IdP.Kind != upstream.KindLDAP || sessions[0].IdP.DisplayName != "ldap" ||
		sessions[0].Subject != "https://up?idpName=ldap&sub=s1" {
		t.Errorf("sessions %+v", sessions)
	}

	t.Run("form_post", func(t *testing.T) {
		q := formParams()
		q.Set("response_mode", "form_post")
		state, cookie := startFormLogin(t, p, q)
		w := loginPOST(p, url.Values{"state": {state}, "username": {"alice"}, "password": {"pw"}}, cookie)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `name="encoded_params" value="code=sel_ac_`) {
			t.Errorf("form_post: %d\n%s", w.Code, w.Body)
		}
	})
	t.Run("the CLI password flow still answers with a 302", func(t *testing.T) {
		w := doAuthorize(p, formParams(), "alice", "pw")
		if loc, _ := url.Parse(w.Header().Get("Location")); w.Code != http.StatusFound || loc.Query().Get("code") == "" {
			t.Errorf("password flow: %d %s", w.Code, loc)
		}
	})
}

func TestLoginFormBadInput(t *testing.T) {
	p := newFormProvider(t)
	state, cookie := startFormLogin(t, p, formParams())
	_, secondCookie := startFormLogin(t, p, formParams()) // a new browser: a new CSRF value
	upstreamState, upstreamCookie := startBrowserLogin(t, p, authorizeParams())
	expired := newFormProvider(t)
	expired.cfg.Clock = func() time.Time { return time.Now().Add(2 * time.Hour) }
	gone := newFormProvider(t)
	gone.cfg.IdPs = gone.cfg.IdPs[:1]
	good := url.Values{"state": {state}, "username": {"alice"}, "password": {"pw"}}
	for _, tc := range []struct {
		name       string
		p          *Provider
		form       url.Values
		cookie     *http.Cookie
		wantStatus int
		wantBody   string
	}{
		{"no state", p, url.Values{"username": {"alice"}, "password": {"pw"}}, cookie, http.StatusBadRequest, "state param not found"},
		{"no cookie", p, good, nil, http.StatusForbidden, "CSRF cookie is missing"},
		{"cookie of another login", p, good, secondCookie, http.StatusForbidden, "CSRF value does not match"},
		{"malformed state", p, url.Values{"state": {"garbage"}, "username": {"alice"}, "password": {"pw"}}, cookie, http.StatusBadRequest, "error reading state"},
		{"state of an upstream redirect", p, url.Values{"state": {upstreamState}, "username": {"alice"}, "password": {"pw"}}, upstreamCookie,
			http.StatusBadRequest, "error reading state"},
		{"expired state", expired, good, cookie, http.StatusBadRequest, "error reading state"},
		{"IdP no longer in the domain", gone, good, cookie, http.StatusUnprocessableEntity, "upstream provider not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, w := range []*httptest.ResponseRecorder{loginPOST(tc.p, tc.form, tc.cookie), loginGET(tc.p, tc.form.Encode(), tc.cookie)} {
				if w.Code != tc.wantStatus || !strings.Contains(w.Body.String(), tc.wantBody) {
					t.Errorf("got %d %q, want %d %q", w.Code, w.Body, tc.wantStatus, tc.wantBody)
				}
			}
		})
	}
	t.Run("a login form state is no upstream state", func(t *testing.T) {
		w := callback(p, url.Values{"state": {state}, "code": {"good-code"}}.Encode(), cookie)
		if w.Code != http.StatusBadRequest {
			t.Errorf("callback with a login form state: %d %s", w.Code, w.Body)
		}
	})
	if sessions, _ := p.cfg.Store.List(context.Background(), sessionstore.ListOptions{}); len(sessions) != 0 {
		t.Errorf("bad requests stored %d sessions", len(sessions))
	}
}

// TestDeviceFlowWithLoginForm checks that a device login through an IdP with a login
// form goes through the form and approves the device.
func TestDeviceFlowWithLoginForm(t *testing.T) {
	f := newDeviceFixture(t)
	f.p.cfg.IdPs = append(f.p.cfg.IdPs, IdP{DisplayName: "ldap", Provider: &formIdP{}})
	q := deviceParams()
	q.Set("pinniped_idp_name", "ldap")
	status, body := f.post(PathDeviceAuthorization, q, nil)
	if status != http.StatusOK {
		t.Fatalf("device authorization: %d %v", status, body)
	}
	deviceCode, userCode := body["device_code"].(string), body["user_code"].(string)
	token, cookie, _ := f.devicePage(t, "")
	w := f.submit(token, cookie, userCode)
	loc, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc.String(), issuer+PathLogin+"?state=") {
		t.Fatalf("submitting the user code: %d %s", w.Code, loc)
	}
	w = loginPOST(f.p, url.Values{"state": {loc.Query().Get("state")}, "username": {"alice"}, "password": {"pw"}}, cookie)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `id="success"`) {
		t.Fatalf("login form: %d\n%s", w.Code, w.Body)
	}
	f.advance(6 * time.Second)
	if got := f.wantPoll(t, deviceCode, http.StatusOK, ""); got["id_token"] == nil {
		t.Errorf("poll after approval: %v", got)
	}
}
