// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
	"github.com/selkie-dev/selkie/pkg/supervisor/transform"
)

// deviceFixture is a provider with a browser IdP ("corp"), a password-only IdP ("pw")
// and a clock the test moves.
type deviceFixture struct {
	p   *Provider
	now time.Time
}

func newDeviceFixture(t *testing.T) *deviceFixture {
	t.Helper()
	p, _ := newTestProvider(t)
	f := &deviceFixture{p: p, now: time.Date(2026, time.August, 20, 10, 0, 0, 0, time.UTC)}
	p.cfg.Clock = func() time.Time { return f.now }
	p.cfg.IdPs = []IdP{{DisplayName: "corp", Provider: &redirectIdP{}}, {DisplayName: "pw", Provider: &fakeIdP{}}}
	return f
}

func (f *deviceFixture) advance(d time.Duration) { f.now = f.now.Add(d) }

func deviceParams() url.Values {
	return url.Values{"client_id": {CLIClientID}, "scope": {"openid offline_access pinniped:request-audience"}, "pinniped_idp_name": {"corp"}}
}

func (f *deviceFixture) post(path string, form url.Values, change func(*http.Request)) (int, map[string]any) {
	r := httptest.NewRequest(http.MethodPost, issuer+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if change != nil {
		change(r)
	}
	w := httptest.NewRecorder()
	f.p.ServeHTTP(w, r)
	var body map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	return w.Code, body
}

// authorize asks for a device authorization and checks the answer's shape.
func (f *deviceFixture) authorize(t *testing.T) (deviceCode, userCode string) {
	t.Helper()
	status, body := f.post(PathDeviceAuthorization, deviceParams(), nil)
	if status != http.StatusOK {
		t.Fatalf("device authorization: %d %v", status, body)
	}
	deviceCode, _ = body["device_code"].(string)
	userCode, _ = body["user_code"].(string)
	if !strings.HasPrefix(deviceCode, prefixDeviceCode) || !regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`).MatchString(userCode) {
		t.Fatalf("device code %q, user code %q", deviceCode, userCode)
	}
	want := map[string]any{"device_code": deviceCode, "user_code": userCode, "verification_uri": issuer + "/device",
		"verification_uri_complete": issuer + "/device?user_code=" + userCode, "expires_in": float64(600), "interval": float64(5)}
	if !mapsEqual(want, body) {
		t.Errorf("device authorization answer %v, want %v", body, want)
	}
	return deviceCode, userCode
}

func mapsEqual(a, b map[string]any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func (f *deviceFixture) poll(deviceCode string) (int, map[string]any) {
	return f.post(PathToken, url.Values{"grant_type": {GrantDeviceCode}, "device_code": {deviceCode}, "client_id": {CLIClientID}}, nil)
}

func (f *deviceFixture) wantPoll(t *testing.T, deviceCode string, wantStatus int, wantError string) map[string]any {
	t.Helper()
	status, body := f.poll(deviceCode)
	if status != wantStatus || (wantError != "" && body["error"] != wantError) {
		t.Fatalf("poll: %d %v, want %d %s", status, body, wantStatus, wantError)
	}
	return body
}

var formToken = regexp.MustCompile(`name="token" value="([^"]+)"`)

// devicePage opens /device as a browser would and returns the form token and cookie.
func (f *deviceFixture) devicePage(t *testing.T, query string) (string, *http.Cookie, string) {
	t.Helper()
	w := httptest.NewRecorder()
	f.p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, issuer+PathDevice+query, nil))
	m := formToken.FindStringSubmatch(w.Body.String())
	cookies := w.Result().Cookies()
	if w.Code != http.StatusOK || m == nil || len(cookies) != 1 || cookies[0].Name != csrfCookie {
		t.Fatalf("device page: %d %v\n%s", w.Code, cookies, w.Body)
	}
	return m[1], cookies[0], w.Body.String()
}

// submit posts a user code on the device page.
func (f *deviceFixture) submit(token string, cookie *http.Cookie, userCode string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, issuer+PathDevice, strings.NewReader(url.Values{"token": {token}, "user_code": {userCode}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cookie != nil {
		r.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	f.p.ServeHTTP(w, r)
	return w
}

// browserLogin enters the user code and returns the upstream state and the cookie.
func (f *deviceFixture) browserLogin(t *testing.T, userCode string) (string, *http.Cookie) {
	t.Helper()
	token, cookie, _ := f.devicePage(t, "")
	w := f.submit(token, cookie, userCode)
	loc, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusSeeOther || loc.Host != "upstream.example.com" {
		t.Fatalf("submitting the user code: %d %s\n%s", w.Code, loc, w.Body)
	}
	return loc.Query().Get("state"), cookie
}

func TestDeviceAuthorizationEndpoint(t *testing.T) {
	f := newDeviceFixture(t)
	secret, _ := bcrypt.GenerateFromPassword([]byte("app-secret"), bcrypt.MinCost)
	f.p.cfg.Clients = func(_ context.Context, id string) (*Client, error) {
		if id != "my-app" {
			return nil, ErrUnknownClient
		}
		return &Client{ID: id, SecretHashes: [][]byte{secret}, GrantTypes: []string{GrantAuthorizationCode, GrantDeviceCode}, Scopes: []string{ScopeOpenID}}, nil
	}
	for _, tc := range []struct {
		name       string
		change     func(url.Values)
		basic      [2]string
		wantStatus int
		wantError  string
	}{
		{name: "unknown client", change: func(q url.Values) { q.Set("client_id", "nobody") }, wantStatus: http.StatusUnauthorized, wantError: errInvalidClient},
		{name: "other client", change: func(q url.Values) { q.Del("client_id") }, basic: [2]string{"my-app", "app-secret"},
			wantStatus: http.StatusBadRequest, wantError: errUnauthorizedClient},
		{name: "unknown IdP", change: func(q url.Values) { q.Set("pinniped_idp_name", "other") }, wantStatus: http.StatusBadRequest, wantError: errInvalidRequest},
		{name: "IdP without browser flow", change: func(q url.Values) { q.Set("pinniped_idp_name", "pw") }, wantStatus: http.StatusBadRequest, wantError: errInvalidRequest},
		{name: "no IdP outside legacy mode", change: func(q url.Values) { q.Del("pinniped_idp_name") }, wantStatus: http.StatusBadRequest, wantError: errInvalidRequest},
		{name: "scope not allowed", change: func(q url.Values) { q.Set("scope", "openid admin") }, wantStatus: http.StatusBadRequest, wantError: errInvalidScope},
		{name: "repeated parameter", change: func(q url.Values) { q.Add("scope", "openid") }, wantStatus: http.StatusBadRequest, wantError: errInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := deviceParams()
			tc.change(q)
			status, body := f.post(PathDeviceAuthorization, q, func(r *http.Request) {
				if tc.basic[0] != "" {
					r.SetBasicAuth(tc.basic[0], tc.basic[1])
				}
			})
			if status != tc.wantStatus || body["error"] != tc.wantError {
				t.Errorf("got %d %v, want %d %s", status, body, tc.wantStatus, tc.wantError)
			}
		})
	}
	if sessions, _ := f.p.cfg.Store.List(context.Background(), sessionstore.ListOptions{}); len(sessions) != 0 {
		t.Errorf("refused requests stored %d sessions", len(sessions))
	}
	t.Run("legacy mode needs no IdP name", func(t *testing.T) {
		f.p.cfg.Legacy, f.p.cfg.IdPs = true, f.p.cfg.IdPs[:1]
		defer func() { f.p.cfg.Legacy = false }()
		q := deviceParams()
		q.Del("pinniped_idp_name")
		if status, body := f.post(PathDeviceAuthorization, q, nil); status != http.StatusOK || body["device_code"] == nil {
			t.Errorf("got %d %v", status, body)
		}
	})
	t.Run("GET is not allowed", func(t *testing.T) {
		w := httptest.NewRecorder()
		f.p.ServeHTTP(w, httptest.NewRequest(http.MethodGet, issuer+PathDeviceAuthorization, nil))
		if w.Code != http.StatusMethodNotAllowed {
			t.Errorf("GET: %d", w.Code)
		}
	})
}

func TestDeviceFlowApproved(t *testing.T) {
	f := newDeviceFixture(t)
	deviceCode, userCode := f.authorize(t)

	f.wantPoll(t, deviceCode, http.StatusBadRequest, errAuthorizationPending)
	f.wantPoll(t, deviceCode, http.StatusBadRequest, errSlowDown) // at once: too fast
	f.advance(6 * time.Second)                                    // the interval is 10 s now: too fast again
	f.wantPoll(t, deviceCode, http.StatusBadRequest, errSlowDown)
	f.advance(15 * time.Second) // the interval is 15 s now
	f.wantPoll(t, deviceCode, http.StatusBadRequest, errAuthorizationPending)

	_, _, page := f.devicePage(t, "?user_code="+url.QueryEscape(userCode))
	if !strings.Contains(page, `value="`+userCode+`"`) {
		t.Errorf("the device page is not prefilled with %s:\n%s", userCode, page)
	}
	// Case, dash and spaces do not matter.
	state, cookie := f.browserLogin(t, " "+strings.ToLower(strings.ReplaceAll(userCode, "-", ""))+" ")
	w := callback(f.p, url.Values{"state": {state}, "code": {"good-code"}}.Encode(), cookie)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "return to your terminal") {
		t.Fatalf("callback: %d %s", w.Code, w.Body)
	}

	f.advance(20 * time.Second)
	tokens := f.wantPoll(t, deviceCode, http.StatusOK, "")
	at, _ := tokens["access_token"].(string)
	rt, _ := tokens["refresh_token"].(string)
	if !strings.HasPrefix(at, prefixAccess) || !strings.HasPrefix(rt, prefixRefresh) || tokens["token_type"] != "bearer" ||
		tokens["scope"] != "openid offline_access pinniped:request-audience username groups" {
		t.Errorf("token response %v", tokens)
	}
	claims := idTokenPayload(t, tokens["id_token"])
	if claims["nonce"] != nil || claims["at_hash"] == nil || claims["username"] != "alice" || claims["sub"] != "https://up?idpName=corp&sub=s1" ||
		claims["auth_time"] != float64(f.now.Add(-20*time.Second).Unix()) {
		t.Errorf("ID token claims %v", claims)
	}

	f.advance(6 * time.Second)
	f.wantPoll(t, deviceCode, http.StatusBadRequest, errInvalidGrant) // consumed

	// The session lives on as a normal one.
	refreshed := f.wantPollForm(t, url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {rt}, "client_id": {CLIClientID}})
	if refreshed["id_token"] == nil {
		t.Errorf("refresh: %v", refreshed)
	}
	s, err := f.p.cfg.Store.Get(context.Background(), f.p.deviceSessionID(strings.ReplaceAll(userCode, "-", "")))
	if err != nil || s.DeviceGrant != nil || !s.Expires.Equal(s.AuthTime.Add(DefaultLifetimes().Session)) {
		t.Errorf("session after collection: %+v %v", s, err)
	}
	// The user code is used up as well.
	token, cookie, _ := f.devicePage(t, "")
	if w := f.submit(token, cookie, userCode); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), deviceCodeInvalid) {
		t.Errorf("re-entering a used user code: %d %s", w.Code, w.Body)
	}
}

func (f *deviceFixture) wantPollForm(t *testing.T, form url.Values) map[string]any {
	t.Helper()
	status, body := f.post(PathToken, form, nil)
	if status != http.StatusOK {
		t.Fatalf("token request: %d %v", status, body)
	}
	return body
}

func idTokenPayload(t *testing.T, token any) map[string]any {
	t.Helper()
	raw, _ := token.(string)
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("ID token %q", raw)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func TestDeviceFlowDenied(t *testing.T) {
	t.Run("upstream refuses", func(t *testing.T) {
		f := newDeviceFixture(t)
		deviceCode, userCode := f.authorize(t)
		state, cookie := f.browserLogin(t, userCode)
		w := callback(f.p, url.Values{"state": {state}, "error": {"access_denied"}}.Encode(), cookie)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "The identity provider refused the login.") {
			t.Fatalf("callback: %d %s", w.Code, w.Body)
		}
		f.wantPoll(t, deviceCode, http.StatusBadRequest, errAccessDenied)
		f.advance(6 * time.Second)
		f.wantPoll(t, deviceCode, http.StatusBadRequest, errInvalidGrant)
	})
	t.Run("policy rejects", func(t *testing.T) {
		f := newDeviceFixture(t)
		f.p.cfg.IdPs[0].Transform = func(context.Context, string, []string) (string, []string, error) {
			return "", nil, &transform.RejectedError{Message: "contractors may not log in"}
		}
		deviceCode, userCode := f.authorize(t)
		state, cookie := f.browserLogin(t, userCode)
		w := callback(f.p, url.Values{"state": {state}, "code": {"good-code"}}.Encode(), cookie)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "contractors may not log in") {
			t.Fatalf("callback: %d %s", w.Code, w.Body)
		}
		f.wantPoll(t, deviceCode, http.StatusBadRequest, errAccessDenied)
	})
}

func TestDeviceFlowExpired(t *testing.T) {
	f := newDeviceFixture(t)
	deviceCode, userCode := f.authorize(t)
	state, cookie := f.browserLogin(t, userCode)
	f.advance(deviceCodeLifetime)
	if w := callback(f.p, url.Values{"state": {state}, "code": {"good-code"}}.Encode(), cookie); w.Code != http.StatusBadRequest ||
		!strings.Contains(w.Body.String(), "expired") {
		t.Errorf("callback after expiry: %d %s", w.Code, w.Body)
	}
	f.wantPoll(t, deviceCode, http.StatusBadRequest, errExpiredToken)
	token, cookie, _ := f.devicePage(t, "")
	if w := f.submit(token, cookie, userCode); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), deviceCodeInvalid) {
		t.Errorf("entering an expired user code: %d %s", w.Code, w.Body)
	}
}

func TestDeviceCodeGrantBadInput(t *testing.T) {
	f := newDeviceFixture(t)
	deviceCode, _ := f.authorize(t)
	sid, _, _ := f.p.tokens.parse(prefixDeviceCode, deviceCode)
	for _, tc := range []struct {
		name       string
		form       url.Values
		wantStatus int
		wantError  string
	}{
		{"garbage device code", url.Values{"device_code": {"sel_dc_x.y"}, "client_id": {CLIClientID}}, http.StatusBadRequest, errInvalidGrant},
		{"wrong secret", url.Values{"device_code": {prefixDeviceCode + sid + ".wrong"}, "client_id": {CLIClientID}}, http.StatusBadRequest, errInvalidGrant},
		{"access token prefix", url.Values{"device_code": {prefixAccess + strings.TrimPrefix(deviceCode, prefixDeviceCode)}, "client_id": {CLIClientID}}, http.StatusBadRequest, errInvalidGrant},
		{"unknown client", url.Values{"device_code": {deviceCode}, "client_id": {"nobody"}}, http.StatusUnauthorized, errInvalidClient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.form.Set("grant_type", GrantDeviceCode)
			status, body := f.post(PathToken, tc.form, nil)
			if status != tc.wantStatus || body["error"] != tc.wantError {
				t.Errorf("got %d %v, want %d %s", status, body, tc.wantStatus, tc.wantError)
			}
		})
	}
	// None of that counted as a poll.
	f.wantPoll(t, deviceCode, http.StatusBadRequest, errAuthorizationPending)
}

func TestDevicePageBadInput(t *testing.T) {
	f := newDeviceFixture(t)
	_, userCode := f.authorize(t)
	token, cookie, _ := f.devicePage(t, "?user_code=%3Cscript%3E")
	otherToken, otherCookie, _ := f.devicePage(t, "") // another browser
	for _, tc := range []struct {
		name       string
		token      string
		cookie     *http.Cookie
		userCode   string
		wantStatus int
		wantBody   string
	}{
		{"malformed code", token, cookie, "BCD", http.StatusBadRequest, deviceCodeInvalid},
		{"code with vowels", token, cookie, "AEIO-UAEI", http.StatusBadRequest, deviceCodeInvalid},
		{"unknown code", token, cookie, "BBBB-BBBB", http.StatusBadRequest, deviceCodeInvalid},
		{"no form token", "", cookie, userCode, http.StatusForbidden, "not sent from this browser"},
		{"no cookie", token, nil, userCode, http.StatusForbidden, "not sent from this browser"},
		{"token of another browser", otherToken, cookie, userCode, http.StatusForbidden, "not sent from this browser"},
		{"cookie of another browser", token, otherCookie, userCode, http.StatusForbidden, "not sent from this browser"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := f.submit(tc.token, tc.cookie, tc.userCode)
			if w.Code != tc.wantStatus || !strings.Contains(w.Body.String(), tc.wantBody) || w.Header().Get("Location") != "" {
				t.Errorf("got %d %s, want %d %q", w.Code, w.Body, tc.wantStatus, tc.wantBody)
			}
		})
	}
	if _, _, page := f.devicePage(t, "?user_code=%3Cscript%3E"); strings.Contains(page, "script&gt;") || strings.Contains(page, "<script>") {
		t.Errorf("a malformed user_code was reflected:\n%s", page)
	}
}

func TestUserCodes(t *testing.T) {
	f := newDeviceFixture(t)
	seen := map[string]bool{}
	for range 200 {
		code, err := newUserCode(f.p.cfg.Rand)
		if err != nil {
			t.Fatal(err)
		}
		norm, ok := normalizeUserCode(strings.ToLower(formatUserCode(code)))
		if !ok || norm != code {
			t.Fatalf("user code %q normalises to %q %v", code, norm, ok)
		}
		seen[code] = true
		if id := f.p.deviceSessionID(code); len(id) != 26 || strings.ToLower(id) != id {
			t.Fatalf("session ID %q", id)
		}
	}
	if len(seen) < 199 {
		t.Errorf("only %d distinct user codes in 200", len(seen))
	}
	if f.p.deviceSessionID("BBBBBBBB") == f.p.deviceSessionID("BBBBBBBC") {
		t.Error("two user codes share a session ID")
	}
}

func TestDiscoveryAdvertisesDeviceFlow(t *testing.T) {
	f := newDeviceFixture(t)
	doc := f.p.DiscoveryDocument()
	if doc.DeviceAuthorizationEndpoint != issuer+"/oauth2/device_authorization" ||
		!slices.Equal(doc.GrantTypesSupported, []string{GrantAuthorizationCode, GrantRefreshToken, GrantTokenExchange, GrantDeviceCode}) {
		t.Errorf("discovery %+v", doc)
	}
	for _, e := range f.p.IDPDiscoveryDocument().IdentityProviders {
		if slices.Contains(e.Flows, "device_code") {
			t.Errorf("IdP discovery lists the device flow: %+v", e)
		}
	}
}
