//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// fastUpstream is an OIDC provider that keeps up with the supervisor, for the refresh
// benchmark's "with an upstream that keeps up": the password and refresh grants of one
// client, RS256 ID tokens (as Dex and most enterprise IdPs sign them), refresh tokens
// rotated at every use (a reused one is refused),
// in the benchmark's own process. Dex, the environment's upstream, is the realistic one;
// on this machine it refreshes fewer tokens a second than the supervisor could serve.
type fastUpstream struct {
	srv          *httptest.Server
	caPEM        []byte
	clientID     string
	clientSecret string
	users        map[string]string // email → password
	signer       jose.Signer
	jwks         jose.JSONWebKeySet

	mu      sync.Mutex
	current map[string]string // user → their current refresh token
}

func startFastUpstream(tb testing.TB, users map[string]string) *fastUpstream {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "fast-1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		tb.Fatal(err)
	}
	u := &fastUpstream{clientID: "fast-client", clientSecret: "fast-secret", users: users, signer: signer,
		jwks:    jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "fast-1", Algorithm: string(jose.RS256), Use: "sig"}}},
		current: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", u.discovery)
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) { writeJSONBody(w, http.StatusOK, u.jwks) })
	mux.HandleFunc("POST /token", u.token)
	u.srv = httptest.NewUnstartedServer(mux)
	u.srv.EnableHTTP2 = true
	u.srv.StartTLS()
	tb.Cleanup(u.srv.Close)
	u.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: u.srv.Certificate().Raw})
	return u
}

func (u *fastUpstream) issuer() string { return u.srv.URL }

func (u *fastUpstream) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSONBody(w, http.StatusOK, map[string]any{
		"issuer": u.issuer(), "authorization_endpoint": u.issuer() + "/auth", "token_endpoint": u.issuer() + "/token",
		"jwks_uri": u.issuer() + "/keys", "response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"}, "grant_types_supported": []string{"password", "refresh_token"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic"},
		"scopes_supported":                      []string{"openid", "offline_access", "email", "profile", "groups"},
	})
}

// token answers the password and refresh grants with the OAuth error codes of RFC 6749.
func (u *fastUpstream) token(w http.ResponseWriter, r *http.Request) {
	if id, secret, ok := r.BasicAuth(); !ok || id != u.clientID || secret != u.clientSecret {
		writeJSONBody(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	var user string
	switch r.PostForm.Get("grant_type") {
	case "password":
		user = r.PostForm.Get("username")
		if password, ok := u.users[user]; !ok || password != r.PostForm.Get("password") {
			writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
			return
		}
	case "refresh_token":
		presented := r.PostForm.Get("refresh_token")
		u.mu.Lock()
		for name, current := range u.current {
			if current == presented {
				user = name
			}
		}
		u.mu.Unlock()
		if user == "" {
			writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
			return
		}
	default:
		writeJSONBody(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	now := time.Now()
	claims, err := json.Marshal(map[string]any{"iss": u.issuer(), "sub": "fast-" + user, "aud": u.clientID,
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "email": user, "email_verified": true,
		"groups": []string{"fast-devs"}, "name": user})
	if err != nil {
		writeJSONBody(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	jws, err := u.signer.Sign(claims)
	if err != nil {
		writeJSONBody(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	idToken, err := jws.CompactSerialize()
	if err != nil {
		writeJSONBody(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
		return
	}
	secret := make([]byte, 24)
	_, _ = rand.Read(secret)
	refresh := base64.RawURLEncoding.EncodeToString(secret)
	u.mu.Lock()
	u.current[user] = refresh
	u.mu.Unlock()
	writeJSONBody(w, http.StatusOK, map[string]any{"access_token": "at-" + refresh, "token_type": "Bearer", "expires_in": 600,
		"refresh_token": refresh, "id_token": idToken})
}

func writeJSONBody(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
