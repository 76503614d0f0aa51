// SPDX-License-Identifier: Apache-2.0

package oidc_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	testClientID     = "upstream-client"
	testClientSecret = "upstream-client-secret"
	testKeyID        = "k1"
)

// codeGrant is an authorization code the fake will redeem.
type codeGrant struct {
	sub, nonce, challenge, redirectURI string
}

// revocation is one request to the fake's revocation endpoint.
type revocation struct {
	Token, Hint string
	ClientOK    bool
}

// fakeUpstream is an upstream OIDC provider over TLS on loopback: discovery, JWKS,
// token endpoint (authorization_code, password, refresh_token), userinfo and
// revocation. Set the knobs before the first request.
type fakeUpstream struct {
	t   *testing.T
	srv *httptest.Server
	key *ecdsa.PrivateKey

	// noUserinfo and noRevocation leave those endpoints out of discovery.
	noUserinfo, noRevocation bool
	// rotateRefresh makes the refresh grant issue a new refresh token.
	rotateRefresh bool
	// signingKey, when set, signs ID tokens instead of the published key.
	signingKey *ecdsa.PrivateKey
	// idToken edits the claims of the ID token issued for a grant type.
	idToken func(grant string, c map[string]any)
	// response edits the token response for a grant type.
	response func(grant string, r map[string]any)
	// userinfo edits the userinfo response.
	userinfo func(c map[string]any)

	mu        sync.Mutex
	codes     map[string]codeGrant
	refresh   map[string]string // refresh token → sub
	access    map[string]string // access token → sub
	passwords map[string]string // username → password
	revoked   []revocation
	issued    []string // every token and code handed out
}

func newFakeUpstream(t *testing.T) *fakeUpstream {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeUpstream{
		t: t, key: key,
		codes: map[string]codeGrant{}, refresh: map[string]string{}, access: map[string]string{},
		passwords: map[string]string{"alice": "alice-password"},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", f.discovery)
	mux.HandleFunc("GET /jwks", f.jwks)
	mux.HandleFunc("POST /token", f.token)
	mux.HandleFunc("GET /userinfo", f.userinfoHandler)
	mux.HandleFunc("POST /revoke", f.revoke)
	f.srv = httptest.NewUnstartedServer(mux)
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // expected TLS failures
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeUpstream) issuer() string { return f.srv.URL }

// caPEM is the PEM of the server's self-signed certificate.
func (f *fakeUpstream) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
}

// newCode registers an authorization code for sub.
func (f *fakeUpstream) newCode(sub, nonce, challenge, redirectURI string) string {
	code := f.secret()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.codes[code] = codeGrant{sub: sub, nonce: nonce, challenge: challenge, redirectURI: redirectURI}
	return code
}

func (f *fakeUpstream) secret() string {
	s := rand.Text()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.issued = append(f.issued, s)
	return s
}

// assertNoSecrets fails when msg quotes a token or code the fake issued, or the
// client secret.
func (f *fakeUpstream) assertNoSecrets(t *testing.T, msg string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range append([]string{testClientSecret, "alice-password"}, f.issued...) {
		if strings.Contains(msg, s) {
			t.Errorf("error %q leaks a secret", msg)
		}
	}
}

func (f *fakeUpstream) revocations() []revocation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]revocation(nil), f.revoked...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeUpstream) discovery(w http.ResponseWriter, _ *http.Request) {
	doc := map[string]any{
		"issuer":                                f.issuer(),
		"authorization_endpoint":                f.issuer() + "/authorize",
		"token_endpoint":                        f.issuer() + "/token",
		"jwks_uri":                              f.issuer() + "/jwks",
		"id_token_signing_alg_values_supported": []string{"ES256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic"},
		"response_types_supported":              []string{"code"},
	}
	if !f.noUserinfo {
		doc["userinfo_endpoint"] = f.issuer() + "/userinfo"
	}
	if !f.noRevocation {
		doc["revocation_endpoint"] = f.issuer() + "/revoke"
	}
	writeJSON(w, http.StatusOK, doc)
}

func (f *fakeUpstream) jwks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &f.key.PublicKey, KeyID: testKeyID, Algorithm: string(jose.ES256), Use: "sig"},
	}})
}

// clientOK checks the client credentials of r (basic authentication, form-encoded).
func clientOK(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if !ok {
		return false
	}
	id, _ = url.QueryUnescape(id)
	secret, _ = url.QueryUnescape(secret)
	return id == testClientID && secret == testClientSecret
}

func oauthError(w http.ResponseWriter, status int, code string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": "fake says no"})
}

func (f *fakeUpstream) token(w http.ResponseWriter, r *http.Request) {
	if !clientOK(r) {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	_ = r.ParseForm()
	grant := r.PostForm.Get("grant_type")
	sub, nonce, keepRefresh, ok := f.redeem(grant, r.PostForm)
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	resp := map[string]any{"token_type": "Bearer", "expires_in": 3600, "access_token": f.secret()}
	if keepRefresh != "" {
		resp["refresh_token"] = keepRefresh
	} else {
		resp["refresh_token"] = f.secret()
	}
	c := map[string]any{
		"iss": f.issuer(), "sub": sub, "aud": []string{testClientID},
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
		"email": sub + "@example.com", "email_verified": true,
		"groups": []string{"admins", "devs"}, "department": "eng",
	}
	if nonce != "" {
		c["nonce"] = nonce
	}
	if f.idToken != nil {
		f.idToken(grant, c)
	}
	resp["id_token"] = f.sign(c)
	if f.response != nil {
		f.response(grant, resp)
	}
	f.mu.Lock()
	if at, ok := resp["access_token"].(string); ok {
		f.access[at] = sub
	}
	if rt, ok := resp["refresh_token"].(string); ok {
		f.refresh[rt] = sub
	}
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

// redeem checks a grant and returns its user, its nonce and, for a refresh that
// does not rotate, the refresh token to return again.
func (f *fakeUpstream) redeem(grant string, form url.Values) (sub, nonce, keepRefresh string, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch grant {
	case "authorization_code":
		g, found := f.codes[form.Get("code")]
		delete(f.codes, form.Get("code"))
		sum := sha256.Sum256([]byte(form.Get("code_verifier")))
		if !found || g.redirectURI != form.Get("redirect_uri") || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			return "", "", "", false
		}
		return g.sub, g.nonce, "", true
	case "password":
		user := form.Get("username")
		if pw, found := f.passwords[user]; !found || pw != form.Get("password") {
			return "", "", "", false
		}
		return user, "", "", true
	case "refresh_token":
		rt := form.Get("refresh_token")
		s, found := f.refresh[rt]
		if !found {
			return "", "", "", false
		}
		if f.rotateRefresh {
			delete(f.refresh, rt)
			return s, "", "", true
		}
		return s, "", rt, true
	}
	return "", "", "", false
}

func (f *fakeUpstream) sign(c map[string]any) string {
	key := f.key
	if f.signingKey != nil {
		key = f.signingKey
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: testKeyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		f.t.Error(err)
		return ""
	}
	payload, _ := json.Marshal(c)
	jws, err := signer.Sign(payload)
	if err != nil {
		f.t.Error(err)
		return ""
	}
	raw, _ := jws.CompactSerialize()
	return raw
}

func (f *fakeUpstream) userinfoHandler(w http.ResponseWriter, r *http.Request) {
	at, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	sub, ok := f.access[at]
	f.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	c := map[string]any{"sub": sub, "email": sub + "@example.com", "groups": []string{"admins", "devs"}, "department": "eng"}
	if f.userinfo != nil {
		f.userinfo(c)
	}
	writeJSON(w, http.StatusOK, c)
}

func (f *fakeUpstream) revoke(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	defer f.mu.Unlock()
	token := r.PostForm.Get("token")
	f.revoked = append(f.revoked, revocation{Token: token, Hint: r.PostForm.Get("token_type_hint"), ClientOK: clientOK(r)})
	delete(f.refresh, token)
	delete(f.access, token)
	w.WriteHeader(http.StatusOK)
}
