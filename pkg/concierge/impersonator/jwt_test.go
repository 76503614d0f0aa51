// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"

	conciergeauthn "github.com/selkie-dev/selkie/pkg/concierge/authenticator"
	"github.com/selkie-dev/selkie/pkg/logfingerprint"
)

// fakeJWT is a token shaped like a JWS with these claims; fakeJWTAuthenticator checks it
// by value, as a real one checks its signature.
func fakeJWT(claims map[string]any) string {
	payload, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"ES256"}`)) + "." + enc(payload) + ".c2ln"
}

// fakeJWTAuthenticators is the concierge's cache for one issuer with one authenticator,
// "console", which accepts the tokens in users.
type fakeJWTAuthenticators struct {
	issuer string
	users  map[string]user.Info
}

func (f fakeJWTAuthenticators) ForIssuer(issuer string) ([]conciergeauthn.Key, []conciergeauthn.Token) {
	if issuer != f.issuer {
		return nil, nil
	}
	return []conciergeauthn.Key{{APIGroup: "authentication.concierge.selkie.dev", Kind: "JWTAuthenticator", Name: "console"}},
		[]conciergeauthn.Token{f}
}

func (f fakeJWTAuthenticators) AuthenticateToken(_ context.Context, token string) (*authenticator.Response, bool, error) {
	u, ok := f.users[token]
	if !ok {
		return nil, false, errors.New(`oidc: error evaluating claim validation expression: validation expression 'claims.hd == "example.com"' failed: corp accounts only`)
	}
	return &authenticator.Response{User: u}, true, nil
}

// TestBearerJWTsOfJWTAuthenticators checks the proxy's second way to authenticate a
// bearer token: when TokenReview does not accept it, the JWTAuthenticators of the issuer
// it names do, and the user is impersonated upstream (extras included) with the proxy's
// other guarantees: nested impersonation is authorized, reserved extras refused, and a
// refusal is logged with its reason but never the token.
func TestBearerJWTsOfJWTAuthenticators(t *testing.T) {
	t.Parallel()
	const issuer = "https://id.example.com/fd1"
	good := fakeJWT(map[string]any{"iss": issuer, "sub": "pinny"})
	reserved := fakeJWT(map[string]any{"iss": issuer, "sub": "mallory"})
	withUID := fakeJWT(map[string]any{"iss": issuer, "sub": "uid"})
	refused := fakeJWT(map[string]any{"iss": issuer, "sub": "walrus"})
	otherIssuer := fakeJWT(map[string]any{"iss": "https://elsewhere.example.com", "sub": "pinny"})
	alsoReviewed := fakeJWT(map[string]any{"iss": issuer, "sub": "known-to-the-api-server"})
	jwts := fakeJWTAuthenticators{issuer: issuer, users: map[string]user.Info{
		good:         &user.DefaultInfo{Name: "pinny@example.com", Groups: []string{"seals"}, Extra: map[string][]string{"console.example.com/session": {"s1"}}},
		reserved:     &user.DefaultInfo{Name: "mallory", Extra: map[string][]string{"original-user-info.impersonation-proxy.concierge.selkie.dev": {"{}"}}},
		withUID:      &user.DefaultInfo{Name: "uidy", UID: "1234"},
		alsoReviewed: &user.DefaultInfo{Name: "never-used"},
	}}
	key := logfingerprint.Random()
	f := newFixture(t, func(a *fakeAPI) {
		a.authorize = allowAll
		a.tokens[alsoReviewed] = authenticationv1.UserInfo{Username: "reviewed", Groups: []string{"api-server-oidc"}}
	}, func(c *Config) {
		c.JWTAuthenticators = jwts
		c.Fingerprint = key.Of
	})
	bearer := func(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }
	tests := []struct {
		name       string
		header     http.Header
		wantStatus int
		want       http.Header
	}{
		{name: "accepted by the issuer's JWTAuthenticator", header: bearer(good), wantStatus: http.StatusOK,
			want: http.Header{"Authorization": {"Bearer " + proxyToken}, "Impersonate-User": {"pinny@example.com"},
				"Impersonate-Group": {"seals", "system:authenticated"}, "Impersonate-Extra-Console.example.com%2fsession": {"s1"}}},
		// What the API server accepts keeps the API server's identity.
		{name: "accepted by the API server first", header: bearer(alsoReviewed), wantStatus: http.StatusOK,
			want: http.Header{"Authorization": {"Bearer " + proxyToken}, "Impersonate-User": {"reviewed"},
				"Impersonate-Group": {"api-server-oidc", "system:authenticated"}}},
		{name: "refused by the issuer's JWTAuthenticator", header: bearer(refused), wantStatus: http.StatusUnauthorized},
		{name: "no JWTAuthenticator for the issuer", header: bearer(otherIssuer), wantStatus: http.StatusUnauthorized},
		{name: "not a JWT", header: bearer("opaque-token"), wantStatus: http.StatusUnauthorized},
		{name: "reserved extra", header: bearer(reserved), wantStatus: http.StatusInternalServerError},
		{name: "a UID cannot be impersonated", header: bearer(withUID), wantStatus: http.StatusInternalServerError},
		{name: "nested impersonation is authorized as the JWT's user", header: http.Header{"Authorization": {"Bearer " + good},
			"Impersonate-User": {"admin"}}, wantStatus: http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.api.requests())
			status, body := f.do(t, f.client(t, nil), http.MethodGet, "/api/v1/namespaces", tt.header)
			if status != tt.wantStatus {
				t.Fatalf("status %d (%s), want %d", status, body, tt.wantStatus)
			}
			f.forwardedOne(t, before, tt.want)
		})
	}
	logs := f.logs.String()
	for _, token := range []string{good, refused, reserved, withUID} {
		if strings.Contains(logs, token) {
			t.Errorf("logs hold a token:\n%s", logs)
		}
	}
	for _, want := range []string{`"msg":"impersonation proxy bearer token refused"`, `"issuer":"` + issuer + `"`,
		`"tokenFingerprint":"` + key.Of(refused) + `"`, `corp accounts only`, `"jwtAuthenticator":"console"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

func TestUnverifiedIssuer(t *testing.T) {
	t.Parallel()
	for token, want := range map[string]string{
		fakeJWT(map[string]any{"iss": "https://a.example.com"}): "https://a.example.com",
		fakeJWT(map[string]any{"iss": 42}):                      "",
		"a.b":                                                   "",
		"a.!!!.c":                                               "",
		"a." + base64.RawURLEncoding.EncodeToString([]byte("[]")) + ".c": "",
		"a." + strings.Repeat("A", maxJWTPayload+1) + ".c":               "",
	} {
		if got := unverifiedIssuer(token); got != want {
			t.Errorf("unverifiedIssuer(%.40q) = %q, want %q", token, got, want)
		}
	}
}
