// SPDX-License-Identifier: Apache-2.0

package oidcclient

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/selkie-dev/selkie/pkg/cli/httpretry"
)

// fakeIssuer is a supervisor with a device endpoint whose token endpoint gives the
// scripted answers in turn: an empty answer is a success with a signed ID token, "reset"
// drops the connection, "<status>" is that status without a JSON body, "<status> <code>"
// that status with that OAuth error, and anything else an OAuth error with status 400.
type fakeIssuer struct {
	t       *testing.T
	srv     *httptest.Server
	key     *ecdsa.PrivateKey
	answers []string
	nonce   string

	mu          sync.Mutex
	deviceForm  url.Values
	tokenForms  []url.Values
	noDeviceURL bool
	deviceError bool
}

func newFakeIssuer(t *testing.T, answers ...string) *fakeIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIssuer{t: t, key: key, answers: answers}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIssuer) serve(w http.ResponseWriter, r *http.Request) {
	iss := f.srv.URL
	f.mu.Lock()
	defer f.mu.Unlock()
	_ = r.ParseForm()
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		doc := map[string]any{"issuer": iss, "authorization_endpoint": iss + "/authorize", "token_endpoint": iss + "/token",
			"jwks_uri": iss + "/jwks", "id_token_signing_alg_values_supported": []string{"ES256"}}
		if !f.noDeviceURL {
			doc["device_authorization_endpoint"] = iss + "/device_authorization"
		}
		writeTestJSON(w, http.StatusOK, doc)
	case "/jwks":
		writeTestJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &f.key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	case "/device_authorization":
		f.deviceForm = r.PostForm
		if f.deviceError {
			writeTestJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "no such IdP"})
			return
		}
		writeTestJSON(w, http.StatusOK, map[string]any{"device_code": "sel_dc_x.y", "user_code": "BCDF-GHJK",
			"verification_uri": iss + "/device", "verification_uri_complete": iss + "/device?user_code=BCDF-GHJK", "expires_in": 600, "interval": 5})
	case "/token":
		f.tokenForms = append(f.tokenForms, r.PostForm)
		if len(f.answers) == 0 {
			f.t.Errorf("polled after the last answer")
			writeTestJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
			return
		}
		answer := f.answers[0]
		f.answers = f.answers[1:]
		if answer != "" && f.scriptedFailure(w, answer) {
			return
		}
		if answer != "" {
			writeTestJSON(w, http.StatusBadRequest, map[string]string{"error": answer, "error_description": "scripted"})
			return
		}
		writeTestJSON(w, http.StatusOK, map[string]any{"access_token": "sel_at_a.b", "refresh_token": "sel_rt_a.b", "expires_in": 120,
			"token_type": "bearer", "scope": "openid offline_access", "id_token": f.idToken("sel_at_a.b")})
	default:
		http.NotFound(w, r)
	}
}

// scriptedFailure writes the answers that are not 400 OAuth errors; it reports whether
// answer was one.
func (f *fakeIssuer) scriptedFailure(w http.ResponseWriter, answer string) bool {
	if answer == "reset" {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			f.t.Error(err)
			return true
		}
		conn.Close()
		return true
	}
	statusText, code, _ := strings.Cut(answer, " ")
	status, err := strconv.Atoi(statusText)
	switch {
	case err != nil:
		return false
	case code != "":
		writeTestJSON(w, status, map[string]string{"error": code, "error_description": "scripted"})
	default:
		http.Error(w, http.StatusText(status), status)
	}
	return true
}

func (f *fakeIssuer) idToken(accessToken string) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: f.key, KeyID: "k1"}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		f.t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(accessToken))
	now := time.Now()
	claims := map[string]any{"iss": f.srv.URL, "sub": "alice-sub", "aud": []string{"pinniped-cli"}, "iat": now.Unix(),
		"exp": now.Add(2 * time.Minute).Unix(), "at_hash": base64.RawURLEncoding.EncodeToString(sum[:16]), "username": "alice"}
	if f.nonce != "" {
		claims["nonce"] = f.nonce
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		f.t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		f.t.Fatal(err)
	}
	return raw
}

func writeTestJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func TestDeviceLogin(t *testing.T) {
	for _, tc := range []struct {
		name        string
		answers     []string
		setup       func(*fakeIssuer)
		wantSleeps  []time.Duration
		wantErr     string
		wantNoPrint bool
	}{
		{name: "pending, slow down, approved", answers: []string{"authorization_pending", "slow_down", "authorization_pending", ""},
			wantSleeps: []time.Duration{5 * time.Second, 5 * time.Second, 10 * time.Second, 10 * time.Second}},
		{name: "slow down twice", answers: []string{"slow_down", "slow_down", ""},
			wantSleeps: []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second}},
		{name: "denied", answers: []string{"authorization_pending", "access_denied"}, wantErr: "the login was denied",
			wantSleeps: []time.Duration{5 * time.Second, 5 * time.Second}},
		{name: "expired", answers: []string{"expired_token"}, wantErr: "the code expired", wantSleeps: []time.Duration{5 * time.Second}},
		{name: "other error", answers: []string{"invalid_grant"}, wantErr: "invalid_grant", wantSleeps: []time.Duration{5 * time.Second}},
		{name: "ID token with a nonce", answers: []string{""}, setup: func(f *fakeIssuer) { f.nonce = "unexpected-nonce" },
			wantErr: "nonce", wantSleeps: []time.Duration{5 * time.Second}},
		{name: "device authorization refused", setup: func(f *fakeIssuer) { f.deviceError = true },
			wantErr: "device authorization refused: invalid_request: no such IdP", wantNoPrint: true},
		{name: "issuer without device logins", setup: func(f *fakeIssuer) { f.noDeviceURL = true },
			wantErr: "does not offer device logins", wantNoPrint: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIssuer(t, tc.answers...)
			if tc.setup != nil {
				tc.setup(f)
			}
			c, err := Discover(context.Background(), f.srv.URL, "pinniped-cli", f.srv.Client(), nil)
			if err != nil {
				t.Fatal(err)
			}
			var prompt strings.Builder
			var sleeps []time.Duration
			tokens, err := c.DeviceLogin(context.Background(), AuthRequest{Scopes: []string{"openid", "offline_access"}, IDPName: "corp", IDPType: "oidc"},
				DeviceOptions{Prompt: &prompt, Sleep: func(_ context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil }})
			if diff := cmp.Diff(tc.wantSleeps, sleeps); diff != "" {
				t.Errorf("sleeps (-want +got):\n%s", diff)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if tokens.AccessToken != "sel_at_a.b" || tokens.RefreshToken != "sel_rt_a.b" || tokens.IDClaims["username"] != "alice" {
				t.Errorf("tokens %+v", tokens)
			}
			wantPrompt := "To log in, visit " + f.srv.URL + "/device?user_code=BCDF-GHJK\nand confirm the code BCDF-GHJK\n"
			if tc.wantNoPrint {
				wantPrompt = ""
			}
			if prompt.String() != wantPrompt {
				t.Errorf("prompt %q, want %q", prompt.String(), wantPrompt)
			}
			if f.deviceForm != nil {
				want := url.Values{"client_id": {"pinniped-cli"}, "scope": {"openid offline_access"}, "pinniped_idp_name": {"corp"}}
				if diff := cmp.Diff(want, f.deviceForm); diff != "" {
					t.Errorf("device authorization form (-want +got):\n%s", diff)
				}
			}
			for _, form := range f.tokenForms {
				want := url.Values{"client_id": {"pinniped-cli"}, "grant_type": {grantDeviceCode}, "device_code": {"sel_dc_x.y"}}
				if diff := cmp.Diff(want, form); diff != "" {
					t.Errorf("token form (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestDeviceLoginStopsWhenCancelled(t *testing.T) {
	f := newFakeIssuer(t, "authorization_pending")
	c, err := Discover(context.Background(), f.srv.URL, "pinniped-cli", f.srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	polls := 0
	_, err = c.DeviceLogin(ctx, AuthRequest{Scopes: []string{"openid"}}, DeviceOptions{Prompt: &strings.Builder{},
		Sleep: func(ctx context.Context, _ time.Duration) error {
			if polls++; polls == 2 {
				cancel()
			}
			return httpretry.Sleep(ctx, time.Millisecond)
		}})
	if err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("error %v, want a cancellation", err)
	}
}
