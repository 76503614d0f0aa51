// SPDX-License-Identifier: Apache-2.0

package jwt

import (
	"context"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	v1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
)

// TestAuthenticate checks the authenticator a Ready JWTAuthenticator stores:
// RS256 and ES256 tokens with the right issuer, audience and lifetime
// authenticate with the username and groups from the claims, unprefixed;
// anything else is rejected.
func TestAuthenticate(t *testing.T) {
	t.Parallel()
	is := newIssuer(t, issuerOptions{})
	r := newReconciler(t, newJWTAuthenticator(v1alpha1.JWTAuthenticatorSpec{
		Issuer: is.url, Audience: testAudience, TLS: inlineTLS(is),
	}))
	reconcileOnce(t, r)
	custom := newReconciler(t, newJWTAuthenticator(v1alpha1.JWTAuthenticatorSpec{
		Issuer: is.url, Audience: testAudience, TLS: inlineTLS(is),
		Claims: v1alpha1.JWTTokenClaims{Username: "preferred_username", Groups: "roles"},
	}))
	reconcileOnce(t, custom)

	hourAgo := time.Now().Add(-time.Hour).Unix()
	tests := []struct {
		name       string
		reconciler *Reconciler
		alg        jose.SignatureAlgorithm
		claims     map[string]any
		foreignKey bool
		wantUser   string // empty when the token must be rejected
		wantGroups []string
		wantErr    bool
	}{
		{name: "ES256", alg: jose.ES256, wantUser: "pinny", wantGroups: []string{"seals", "walruses"}},
		{name: "RS256", alg: jose.RS256, wantUser: "pinny", wantGroups: []string{"seals", "walruses"}},
		{name: "groups as a string", alg: jose.ES256, claims: map[string]any{"groups": "seals"}, wantUser: "pinny", wantGroups: []string{"seals"}},
		{name: "no groups", alg: jose.ES256, claims: map[string]any{"groups": nil}, wantUser: "pinny"},
		{name: "audience among others", alg: jose.ES256, claims: map[string]any{"aud": []string{"other", testAudience}}, wantUser: "pinny", wantGroups: []string{"seals", "walruses"}},
		{
			name: "custom claims", reconciler: custom, alg: jose.ES256,
			claims:   map[string]any{"preferred_username": "walrus@example.com", "roles": []string{"admins"}},
			wantUser: "walrus@example.com", wantGroups: []string{"admins"},
		},
		{name: "custom username claim missing", reconciler: custom, alg: jose.ES256, wantErr: true},
		{name: "wrong audience", alg: jose.ES256, claims: map[string]any{"aud": "another-cluster"}, wantErr: true},
		{name: "expired", alg: jose.RS256, claims: map[string]any{"exp": hourAgo, "iat": hourAgo - 60, "nbf": hourAgo - 60}, wantErr: true},
		{name: "unknown signing key", alg: jose.ES256, foreignKey: true, wantErr: true},
		{name: "username claim missing", alg: jose.ES256, claims: map[string]any{"username": nil}, wantErr: true},
		// Kubernetes' reserved identities never come from outside the cluster.
		{name: "system: group", alg: jose.ES256, claims: map[string]any{"groups": []string{"seals", "system:masters"}}, wantErr: true},
		{name: "system: username", alg: jose.ES256, claims: map[string]any{"username": "system:serviceaccount:kube-system:default"}, wantErr: true},
		{name: "system lookalike allowed", alg: jose.ES256, claims: map[string]any{"username": "systemd", "groups": []string{"system-admins"}}, wantUser: "systemd", wantGroups: []string{"system-admins"}},
		// Tokens of another issuer are not this authenticator's to judge.
		{name: "other issuer", alg: jose.ES256, claims: map[string]any{"iss": "https://elsewhere.example.com"}},
		{name: "not a JWT", alg: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := tc.reconciler
			if rec == nil {
				rec = r
			}
			authn, ok := rec.Cache.Get(cacheKey())
			if !ok {
				t.Fatal("authenticator not in the cache")
			}
			token := "not-a-jwt"
			if tc.alg != "" {
				token = is.sign(t, tc.alg, is.claims(testAudience, tc.claims), tc.foreignKey)
			}
			resp, ok, err := authn.AuthenticateToken(context.Background(), token)
			if (err != nil) != tc.wantErr {
				t.Fatalf("AuthenticateToken error = %v, want error %v", err, tc.wantErr)
			}
			if ok != (tc.wantUser != "") {
				t.Fatalf("AuthenticateToken ok = %v, want %v", ok, tc.wantUser != "")
			}
			if !ok {
				return
			}
			if got := resp.User.GetName(); got != tc.wantUser {
				t.Errorf("username = %q, want %q", got, tc.wantUser)
			}
			if diff := cmp.Diff(tc.wantGroups, resp.User.GetGroups()); diff != "" {
				t.Errorf("groups (-want +got):\n%s", diff)
			}
		})
	}
}
