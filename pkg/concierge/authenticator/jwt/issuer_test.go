// SPDX-License-Identifier: Apache-2.0

package jwt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/selkie-dev/selkie/pkg/internal/testtls"
)

// issuerOptions change how a testIssuer misbehaves; the zero value is a
// well-behaved issuer.
type issuerOptions struct {
	discoveryStatus int                     // 0 means 200
	docIssuer       func(url string) string // the issuer named by discovery; nil means the real one
	jwksURI         func(url string) string // the jwks_uri named by discovery; nil means the real one
	jwksStatus      int                     // 0 means 200
	jwksBody        string                  // replaces the JWKS when set
	issuerPath      string                  // appended to the server URL to form the issuer
}

// testIssuer is an OIDC issuer serving discovery and a JWKS with an RS256
// and an ES256 key, over TLS with a certificate from its own CA.
type testIssuer struct {
	ca             *testtls.CA
	url            string
	rsaKey         *rsa.PrivateKey
	ecKey          *ecdsa.PrivateKey
	discoveryCalls atomic.Int32
}

func newIssuer(t *testing.T, opts issuerOptions) *testIssuer {
	t.Helper()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	is := &testIssuer{ca: testtls.NewCA(t), rsaKey: rsaKey, ecKey: ecKey}
	base := strings.TrimSuffix(opts.issuerPath, "/")
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+base+"/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		is.discoveryCalls.Add(1)
		doc := map[string]any{"issuer": is.url, "jwks_uri": strings.TrimSuffix(is.url, "/") + "/jwks.json"}
		if opts.docIssuer != nil {
			doc["issuer"] = opts.docIssuer(is.url)
		}
		if opts.jwksURI != nil {
			doc["jwks_uri"] = opts.jwksURI(is.url)
		}
		writeJSON(w, opts.discoveryStatus, doc)
	})
	mux.HandleFunc("GET "+base+"/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		if opts.jwksBody != "" {
			w.WriteHeader(statusOr200(opts.jwksStatus))
			_, _ = w.Write([]byte(opts.jwksBody))
			return
		}
		writeJSON(w, opts.jwksStatus, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &rsaKey.PublicKey, KeyID: "rsa", Algorithm: string(jose.RS256), Use: "sig"},
			{Key: &ecKey.PublicKey, KeyID: "ec", Algorithm: string(jose.ES256), Use: "sig"},
		}})
	})
	srv := is.ca.NewServer(t, mux)
	is.url = srv.URL + opts.issuerPath
	return is
}

func statusOr200(code int) int {
	if code == 0 {
		return http.StatusOK
	}
	return code
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(statusOr200(code))
	_ = json.NewEncoder(w).Encode(v)
}

// claims returns valid claims for audience, overridden by extra (a nil value
// deletes a claim).
func (is *testIssuer) claims(audience string, extra map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss":      is.url,
		"aud":      audience,
		"sub":      "subject-1",
		"username": "pinny",
		"groups":   []string{"seals", "walruses"},
		"iat":      now.Unix(),
		"nbf":      now.Add(-time.Minute).Unix(),
		"exp":      now.Add(time.Hour).Unix(),
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// sign returns claims signed with the issuer's key for alg or, when foreign
// is set, with an unknown ES256 key that claims the issuer's ES256 key ID.
func (is *testIssuer) sign(t *testing.T, alg jose.SignatureAlgorithm, claims map[string]any, foreign bool) string {
	t.Helper()
	var key jose.JSONWebKey
	switch alg {
	case jose.RS256:
		key = jose.JSONWebKey{Key: is.rsaKey, KeyID: "rsa"}
	case jose.ES256:
		key = jose.JSONWebKey{Key: is.ecKey, KeyID: "ec"}
	default:
		t.Fatalf("unsupported alg %s", alg)
	}
	if foreign {
		other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		alg, key = jose.ES256, jose.JSONWebKey{Key: other, KeyID: "ec"}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	token, err := josejwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return token
}
