// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/selkie-dev/selkie/pkg/supervisor/keys"
	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// fakeIdP is a password upstream with one user whose groups the test can change.
type fakeIdP struct {
	groups  []string
	refresh error
	logins  atomic.Int32 // calls of Login
}

func (f *fakeIdP) Type() string      { return upstream.TypeOIDC }
func (f *fakeIdP) Namespace() string { return "sup" }
func (f *fakeIdP) Name() string      { return "fake" }
func (f *fakeIdP) UID() string       { return "uid-1" }
func (f *fakeIdP) Flows() []string   { return []string{upstream.FlowCLIPassword} }
func (f *fakeIdP) DownstreamSubject(d string, id *upstream.Identity) string {
	return "https://up?idpName=" + d + "&sub=" + id.Subject
}
func (f *fakeIdP) Login(_ context.Context, u, p string) (*upstream.Identity, error) {
	f.logins.Add(1)
	if u != "alice" || p != "pw" {
		return nil, upstream.ErrBadCredentials
	}
	return &upstream.Identity{Subject: "s1", Username: "alice", Groups: f.groups}, nil
}
func (f *fakeIdP) Refresh(_ context.Context, prev *upstream.Identity) (*upstream.Identity, error) {
	if f.refresh != nil {
		return nil, f.refresh
	}
	return &upstream.Identity{Subject: prev.Subject, Username: "alice", Groups: f.groups}, nil
}

const issuer = "https://id.example.com/fd"

func newTestProvider(t *testing.T) (*Provider, *fakeIdP) {
	t.Helper()
	km := &keys.Manager{Secrets: fake.NewClientset().CoreV1().Secrets("sup")}
	set, _, err := km.Reconcile(context.Background(), "jwks", metav1.OwnerReference{})
	if err != nil {
		t.Fatal(err)
	}
	idp := &fakeIdP{groups: []string{"b", "a", "a"}}
	key := strings.Repeat("k", 32)
	p, err := New(Config{Issuer: issuer, IdPs: []IdP{{DisplayName: "corp", Provider: idp}}, Keys: func() *keys.Set { return set },
		TokenKey: []byte(key), StateSigningKey: []byte(key), StateEncryptionKey: []byte(key), Store: sessionstore.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	return p, idp
}

const verifier = "0123456789012345678901234567890123456789abc"

func challenge() string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func authorizeParams() url.Values {
	return url.Values{"client_id": {CLIClientID}, "redirect_uri": {"http://127.0.0.1:1234/callback"}, "response_type": {"code"},
		"scope": {"openid offline_access pinniped:request-audience"}, "state": {"12345678"}, "code_challenge": {challenge()},
		"code_challenge_method": {"S256"}, "pinniped_idp_name": {"corp"}}
}

func doAuthorize(p *Provider, q url.Values, user, pass string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, issuer+PathAuthorize+"?"+q.Encode(), nil)
	r.Header.Set(headerUsername, user)
	r.Header.Set(headerPassword, pass)
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r)
	return w
}

func doToken(p *Provider, form url.Values) (int, map[string]any) {
	r := httptest.NewRequest(http.MethodPost, issuer+PathToken, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	p.ServeHTTP(w, r)
	var body map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &body)
	return w.Code, body
}

func TestAuthorizeBadInput(t *testing.T) {
	p, _ := newTestProvider(t)
	for _, tc := range []struct {
		name       string
		change     func(url.Values)
		wantStatus int
		wantError  string
	}{
		{"unknown client", func(q url.Values) { q.Set("client_id", "nobody") }, http.StatusUnauthorized, errInvalidClient},
		{"wrong redirect URI", func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:1234/elsewhere") }, http.StatusBadRequest, errInvalidRequest},
		{"custom scheme redirect", func(q url.Values) { q.Set("redirect_uri", "myapp://callback") }, http.StatusBadRequest, errInvalidRequest},
		{"oversized parameter", func(q url.Values) { q.Set("state", strings.Repeat("s", maxParamLength+1)) }, http.StatusBadRequest, errInvalidRequest},
		{"missing PKCE", func(q url.Values) { q.Del("code_challenge") }, http.StatusFound, errInvalidRequest},
		{"plain PKCE", func(q url.Values) { q.Set("code_challenge_method", "plain") }, http.StatusFound, errInvalidRequest},
		{"short state", func(q url.Values) { q.Set("state", "short") }, http.StatusFound, errInvalidRequest},
		{"unknown scope", func(q url.Values) { q.Set("scope", "openid admin") }, http.StatusFound, errInvalidScope},
		{"unknown IdP", func(q url.Values) { q.Set("pinniped_idp_name", "other") }, http.StatusFound, errInvalidRequest},
		{"token response type", func(q url.Values) { q.Set("response_type", "token") }, http.StatusFound, errUnsupportedResponseType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := authorizeParams()
			tc.change(q)
			w := doAuthorize(p, q, "alice", "pw")
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.wantStatus, w.Body)
			}
			var got string
			if w.Code == http.StatusFound {
				loc, _ := url.Parse(w.Header().Get("Location"))
				got = loc.Query().Get("error")
				if loc.Query().Get("code") != "" {
					t.Error("a code was issued")
				}
			} else {
				var body map[string]any
				_ = json.Unmarshal(w.Body.Bytes(), &body)
				got, _ = body["error"].(string)
			}
			if got != tc.wantError {
				t.Errorf("error %q, want %q", got, tc.wantError)
			}
		})
	}
	sessions, _ := p.cfg.Store.List(context.Background(), sessionstore.ListOptions{})
	if len(sessions) != 0 {
		t.Errorf("bad requests stored %d sessions", len(sessions))
	}
}

// passwordLogin runs the password flow and redeems the code.
func passwordLogin(t *testing.T, p *Provider) map[string]any {
	t.Helper()
	w := doAuthorize(p, authorizeParams(), "alice", "pw")
	loc, _ := url.Parse(w.Header().Get("Location"))
	if w.Code != http.StatusFound || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d %s", w.Code, w.Header().Get("Location"))
	}
	status, body := doToken(p, url.Values{"grant_type": {GrantAuthorizationCode}, "code": {loc.Query().Get("code")},
		"redirect_uri": {"http://127.0.0.1:1234/callback"}, "code_verifier": {verifier}, "client_id": {CLIClientID}})
	if status != http.StatusOK {
		t.Fatalf("code exchange: %d %v", status, body)
	}
	return body
}

func TestTokenEndpointBadInput(t *testing.T) {
	p, idp := newTestProvider(t)
	tokens := passwordLogin(t, p)
	at, rt := tokens["access_token"].(string), tokens["refresh_token"].(string)
	exchange := func(change func(url.Values)) url.Values {
		f := url.Values{"grant_type": {GrantTokenExchange}, "client_id": {CLIClientID}, "audience": {"cluster-a"}, "subject_token": {at},
			"subject_token_type": {tokenTypeAccessToken}, "requested_token_type": {tokenTypeJWT}}
		change(f)
		return f
	}
	for _, tc := range []struct {
		name       string
		form       url.Values
		wantStatus int
		wantError  string
	}{
		{"unknown client", url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {rt}, "client_id": {"nobody"}}, http.StatusUnauthorized, errInvalidClient},
		{"unknown grant", url.Values{"grant_type": {"password"}, "client_id": {CLIClientID}}, http.StatusBadRequest, errUnsupportedGrantType},
		{"garbage refresh token", url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {"sel_rt_x.y"}, "client_id": {CLIClientID}}, http.StatusBadRequest, errInvalidGrant},
		{"audience missing", exchange(func(f url.Values) { f.Del("audience") }), http.StatusBadRequest, errInvalidRequest},
		{"audience reserved", exchange(func(f url.Values) { f.Set("audience", "x.pinniped.dev") }), http.StatusBadRequest, errInvalidRequest},
		{"audience selkie", exchange(func(f url.Values) { f.Set("audience", "a.selkie.dev") }), http.StatusBadRequest, errInvalidRequest},
		{"audience is the CLI", exchange(func(f url.Values) { f.Set("audience", CLIClientID) }), http.StatusBadRequest, errInvalidRequest},
		{"with scope", exchange(func(f url.Values) { f.Set("scope", "openid") }), http.StatusBadRequest, errInvalidRequest},
		{"wrong requested type", exchange(func(f url.Values) { f.Set("requested_token_type", tokenTypeAccessToken) }), http.StatusBadRequest, errInvalidRequest},
		{"refresh token as subject", exchange(func(f url.Values) { f.Set("subject_token", rt) }), http.StatusBadRequest, errRequestUnauthorized},
		{"oversized parameter", exchange(func(f url.Values) { f.Set("audience", strings.Repeat("a", maxParamLength+1)) }), http.StatusBadRequest, errInvalidRequest},
		{"oversized body", exchange(func(f url.Values) { f.Set("padding", strings.Repeat("p", maxRequestBytes)) }), http.StatusBadRequest, errInvalidRequest},
		{"repeated parameter", exchange(func(f url.Values) { f.Add("audience", "cluster-b") }), http.StatusBadRequest, errInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := doToken(p, tc.form)
			if status != tc.wantStatus || body["error"] != tc.wantError {
				t.Errorf("got %d %v, want %d %s", status, body, tc.wantStatus, tc.wantError)
			}
		})
	}
	t.Run("refresh reports group changes and upstream failure", func(t *testing.T) {
		idp.groups = []string{"a", "c"}
		r := httptest.NewRequest(http.MethodPost, issuer+PathToken, strings.NewReader(url.Values{"grant_type": {GrantRefreshToken},
			"refresh_token": {rt}, "client_id": {CLIClientID}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("refresh: %d %s", w.Code, w.Body)
		}
		warnings := strings.Join(w.Header().Values("Warning"), "\n")
		if !strings.Contains(warnings, `added to the following groups: [\"c\"]`) || !strings.Contains(warnings, `removed from the following groups: [\"b\"]`) {
			t.Errorf("warnings %q", warnings)
		}
		var body map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		idp.refresh = upstream.ErrBadCredentials
		status, failed := doToken(p, url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {body["refresh_token"].(string)}, "client_id": {CLIClientID}})
		if status != http.StatusUnauthorized || failed["error"] != "error" || !strings.HasPrefix(failed["error_description"].(string), "Error during upstream refresh.") {
			t.Errorf("upstream failure: %d %v", status, failed)
		}
	})
}

func TestStateRejectsTamperingAndExpiry(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	c, err := newStateCodec(key, key)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	enc, err := c.encode(purposeState, "v", now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	tampered := []byte(enc)
	tampered[0] ^= 'A' ^ 'B' // a different base64url letter either way
	var got string
	if err := c.decode(purposeState, enc, now, &got); err != nil || got != "v" {
		t.Fatalf("round trip: %q %v", got, err)
	}
	for name, tc := range map[string]struct {
		purpose, value string
		at             time.Time
		want           error
	}{
		"tampered":      {purposeState, string(tampered), now, errStateInvalid},
		"other purpose": {purposeCSRF, enc, now, errStateInvalid},
		"expired":       {purposeState, enc, now.Add(2 * time.Minute), errStateExpired},
		"garbage":       {purposeState, "not-a-state", now, errStateInvalid},
	} {
		if err := c.decode(tc.purpose, tc.value, tc.at, &got); err != tc.want {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

// TestRefreshKeepsFewLiveAccessTokens: a client refreshing in a loop leaves at most
// maxLiveAccessTokens unexpired access tokens in its session, the newest; the newest
// still exchanges and the oldest no longer does.
func TestRefreshKeepsFewLiveAccessTokens(t *testing.T) {
	p, _ := newTestProvider(t)
	tokens := passwordLogin(t, p)
	first := tokens["access_token"].(string)
	for range 3 * maxLiveAccessTokens {
		status, body := doToken(p, url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {tokens["refresh_token"].(string)}, "client_id": {CLIClientID}})
		if status != http.StatusOK {
			t.Fatalf("refresh: %d %v", status, body)
		}
		tokens = body
	}
	sessions, err := p.cfg.Store.List(context.Background(), sessionstore.ListOptions{})
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions: %d, %v", len(sessions), err)
	}
	if n := len(sessions[0].AccessTokens); n != maxLiveAccessTokens {
		t.Errorf("the session keeps %d live access tokens, want %d", n, maxLiveAccessTokens)
	}
	exchange := func(at string) int {
		status, _ := doToken(p, url.Values{"grant_type": {GrantTokenExchange}, "client_id": {CLIClientID}, "audience": {"cluster-a"},
			"subject_token": {at}, "subject_token_type": {tokenTypeAccessToken}, "requested_token_type": {tokenTypeJWT}})
		return status
	}
	if got := exchange(tokens["access_token"].(string)); got != http.StatusOK {
		t.Errorf("exchange of the newest access token: %d", got)
	}
	if got := exchange(first); got == http.StatusOK {
		t.Error("the first access token, dropped long ago, still exchanges")
	}
}
