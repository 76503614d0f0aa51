// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conciergeclient "github.com/selkie-dev/selkie/generated/client/concierge/clientset/versioned"
	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
)

// tokenIssuer is an OIDC issuer on loopback whose signing key the test holds, so it can
// mint tokens Dex never would: expired ones, and ones with enormous group lists.
type tokenIssuer struct {
	url    string
	caPEM  []byte
	signer jose.Signer
}

func startTokenIssuer(t *testing.T) *tokenIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	is := &tokenIssuer{signer: signer}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": is.url, "jwks_uri": is.url + "/jwks",
			"id_token_signing_alg_values_supported": []string{"ES256"}})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	addr, caPEM := serveTLS(t, mux)
	is.url, is.caPEM = "https://"+addr, caPEM
	return is
}

func (is *tokenIssuer) token(t *testing.T, username string, groups []string, expires time.Time) string {
	t.Helper()
	return is.sign(t, map[string]any{"iss": is.url, "aud": "test-cluster", "sub": username, "username": username,
		"groups": groups, "iat": time.Now().Add(-time.Hour).Unix(), "exp": expires.Unix()})
}

// sign mints a token with exactly these claims.
func (is *tokenIssuer) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := is.signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := sig.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTokenCredentialRequestRejectsExpiredAndOversized covers the bad inputs Dex cannot
// produce, each with the generic failure and its own audited reason, plus an
// authenticator that never becomes ready.
func TestTokenCredentialRequestRejectsExpiredAndOversized(t *testing.T) {
	t.Parallel()
	c := sharedConcierge(t)
	ctx := testContext(t)
	is := startTokenIssuer(t)
	client := conciergeclient.NewForConfigOrDie(adminConfig(t, testEnv.Clusters[c.cluster].Kubeconfig)).AuthenticationV1alpha1().JWTAuthenticators()
	create := func(issuer string, ca []byte) string {
		ja, err := client.Create(ctx, &authenticationv1alpha1.JWTAuthenticator{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "own-issuer-"},
			Spec: authenticationv1alpha1.JWTAuthenticatorSpec{Issuer: issuer, Audience: "test-cluster",
				TLS: &authenticationv1alpha1.TLSSpec{CertificateAuthorityData: base64.StdEncoding.EncodeToString(ca)}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = client.Delete(context.Background(), ja.Name, metav1.DeleteOptions{}) })
		return ja.Name
	}
	ready := create(is.url, is.caPEM)
	eventually(t, 30*time.Second, "JWTAuthenticator for the test issuer Ready", func() (bool, error) {
		got, err := client.Get(ctx, ready, metav1.GetOptions{})
		return err == nil && got.Status.Phase == authenticationv1alpha1.JWTAuthenticatorPhaseReady, fmt.Errorf("%v %+v", err, got.Status)
	})
	// An issuer nobody answers for: the authenticator stays not Ready.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "https://" + dead.Addr().String()
	dead.Close()
	notReady := create(deadURL, is.caPEM)

	manyGroups := make([]string, 3000)
	for i := range manyGroups {
		manyGroups[i] = fmt.Sprintf("a-rather-long-group-name-number-%05d", i)
	}
	good := is.token(t, "ivy", []string{"ivies"}, time.Now().Add(5*time.Minute))
	if resp := tokenCredentialRequest(t, c.cluster, good, ready); resp.Status.Credential == nil {
		t.Fatalf("a valid token from the test issuer failed: %s", c.auditReason(t, good, "JWTAuthenticator", ready))
	}
	tests := []struct {
		name, token, authenticator, wantReason string
	}{
		{name: "expired token", token: is.token(t, "ivy", nil, time.Now().Add(-time.Minute)), authenticator: ready, wantReason: "expired"},
		{name: "oversized group set", token: is.token(t, "ivy", manyGroups, time.Now().Add(5*time.Minute)), authenticator: ready, wantReason: "do not fit in a client certificate"},
		{name: "authenticator not ready", token: good, authenticator: notReady, wantReason: "no ready authenticator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := tokenCredentialRequest(t, c.cluster, tt.token, tt.authenticator)
			if resp.Status.Credential != nil || resp.Status.Message == nil || *resp.Status.Message != "authentication failed" {
				t.Errorf("want only the generic failure, got %+v", resp.Status)
			}
			if reason := c.auditReason(t, tt.token, "JWTAuthenticator", tt.authenticator); !strings.Contains(reason, tt.wantReason) {
				t.Errorf("audit reason %q, want it to contain %q", reason, tt.wantReason)
			}
		})
	}
}
