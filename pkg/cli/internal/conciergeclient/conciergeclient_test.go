// SPDX-License-Identifier: Apache-2.0

package conciergeclient

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	loginv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/login/v1alpha1"
)

func TestExchangeTokenRetries(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name         string
		answers      []int
		wantRequests int
		wantSleeps   []time.Duration
		wantErr      string
	}{
		{name: "201", answers: []int{201}, wantRequests: 1},
		{name: "503, then 201", answers: []int{503, 201}, wantRequests: 2, wantSleeps: []time.Duration{250 * ms}},
		{name: "502, 504 and 429, then 201", answers: []int{502, 504, 429, 201}, wantRequests: 4,
			wantSleeps: []time.Duration{250 * ms, 500 * ms, time.Second}},
		{name: "503 every time", answers: []int{503, 503, 503, 503}, wantRequests: 4,
			wantSleeps: []time.Duration{250 * ms, 500 * ms, time.Second}, wantErr: "could not login: the concierge answered 503 Service Unavailable: unavailable"},
		{name: "500 is not retried", answers: []int{500}, wantRequests: 1,
			wantErr: "could not login: the concierge answered 500 Internal Server Error: unavailable"},
		{name: "403 is not retried", answers: []int{403}, wantRequests: 1, wantErr: "could not login: the concierge answered 403 Forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var bodies []string
			answers := tc.answers
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				mu.Lock()
				defer mu.Unlock()
				bodies = append(bodies, string(body))
				if r.URL.Path != "/apis/login.concierge.pinniped.dev/v1alpha1/tokencredentialrequests" || len(answers) == 0 {
					t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
					http.NotFound(w, r)
					return
				}
				status := answers[0]
				answers = answers[1:]
				if status != http.StatusCreated {
					http.Error(w, "unavailable", status)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				_ = json.NewEncoder(w).Encode(map[string]any{"status": map[string]any{"credential": map[string]any{
					"expirationTimestamp": "2026-01-01T12:05:00Z", "clientCertificateData": "cert", "clientKeyData": "key"}}})
			}))
			defer srv.Close()
			var sleeps []time.Duration

			status, err := ExchangeToken(context.Background(), Config{Endpoint: srv.URL,
				CABundle:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}),
				APIGroupSuffix: "pinniped.dev", AuthenticatorType: "jwt", AuthenticatorName: "supervisor",
				Sleep: func(_ context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil }}, "the-id-token")

			if diff := cmp.Diff(tc.wantSleeps, sleeps); diff != "" {
				t.Errorf("sleeps (-want +got):\n%s", diff)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(bodies) != tc.wantRequests {
				t.Errorf("%d requests, want %d", len(bodies), tc.wantRequests)
			}
			for i, b := range bodies {
				if !strings.Contains(b, `"token":"the-id-token"`) {
					t.Errorf("request %d has the body %s", i, b)
				}
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if status.ClientCertificateData != "cert" || status.ClientKeyData != "key" ||
				!status.ExpirationTimestamp.Time.Equal(time.Date(2026, 1, 1, 12, 5, 0, 0, time.UTC)) {
				t.Errorf("status %+v", status)
			}
		})
	}
}

// TestExchangeTokenBodies checks the request the client sends, as the concierge's own
// types decode it, and what it makes of each kind of answer.
func TestExchangeTokenBodies(t *testing.T) {
	for _, tc := range []struct {
		name, suffix, authType string
		answer                 string
		wantPath, wantGroup    string
		wantKind, wantErr      string
	}{
		{name: "a certificate", suffix: "selkie.dev", authType: "jwt",
			answer:   `{"apiVersion":"login.concierge.selkie.dev/v1alpha1","kind":"TokenCredentialRequest","status":{"credential":{"expirationTimestamp":"2026-01-01T12:05:00Z","clientCertificateData":"cert","clientKeyData":"key"}}}`,
			wantPath: "/apis/login.concierge.selkie.dev/v1alpha1/tokencredentialrequests", wantGroup: "authentication.concierge.selkie.dev", wantKind: "JWTAuthenticator"},
		{name: "a custom suffix, a webhook in capitals", suffix: "acme.example", authType: "WebHook",
			answer:   `{"status":{"credential":{"expirationTimestamp":"2026-01-01T12:05:00Z","token":"a-token"}}}`,
			wantPath: "/apis/login.concierge.acme.example/v1alpha1/tokencredentialrequests", wantGroup: "authentication.concierge.acme.example", wantKind: "WebhookAuthenticator"},
		{name: "a refusal", suffix: "selkie.dev", authType: "jwt",
			answer:   `{"status":{"message":"authentication failed"}}`,
			wantPath: "/apis/login.concierge.selkie.dev/v1alpha1/tokencredentialrequests", wantGroup: "authentication.concierge.selkie.dev", wantKind: "JWTAuthenticator",
			wantErr: "could not login: authentication failed"},
		{name: "neither credential nor message", suffix: "selkie.dev", authType: "jwt", answer: `{"status":{}}`,
			wantPath: "/apis/login.concierge.selkie.dev/v1alpha1/tokencredentialrequests", wantGroup: "authentication.concierge.selkie.dev", wantKind: "JWTAuthenticator",
			wantErr: "could not login: the concierge returned no credential"},
		{name: "not JSON", suffix: "selkie.dev", authType: "jwt", answer: `<html>`,
			wantPath: "/apis/login.concierge.selkie.dev/v1alpha1/tokencredentialrequests", wantGroup: "authentication.concierge.selkie.dev", wantKind: "JWTAuthenticator",
			wantErr: "could not login: decode the TokenCredentialRequest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got loginv1alpha1.TokenCredentialRequest
			var path, contentType string
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				path, contentType = r.URL.Path, r.Header.Get("Content-Type")
				if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
					t.Errorf("decode the request: %v", err)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusCreated)
				_, _ = io.WriteString(w, tc.answer)
			}))
			defer srv.Close()

			status, err := ExchangeToken(context.Background(), Config{Endpoint: srv.URL,
				CABundle:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}),
				APIGroupSuffix: tc.suffix, AuthenticatorType: tc.authType, AuthenticatorName: "the-authenticator"}, "the-id-token")

			if path != tc.wantPath || contentType != "application/json" {
				t.Errorf("POST %s (%s), want %s (application/json)", path, contentType, tc.wantPath)
			}
			want := loginv1alpha1.TokenCredentialRequest{
				TypeMeta: metav1.TypeMeta{APIVersion: strings.TrimPrefix(strings.TrimSuffix(tc.wantPath, "/tokencredentialrequests"), "/apis/"), Kind: "TokenCredentialRequest"},
				Spec: loginv1alpha1.TokenCredentialRequestSpec{Token: "the-id-token",
					Authenticator: corev1.TypedLocalObjectReference{APIGroup: &tc.wantGroup, Kind: tc.wantKind, Name: "the-authenticator"}},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !status.ExpirationTimestamp.Time.Equal(time.Date(2026, 1, 1, 12, 5, 0, 0, time.UTC)) {
				t.Errorf("expiration %v", status.ExpirationTimestamp)
			}
		})
	}
}
