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
			retrySleep = func(_ context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil }
			t.Cleanup(func() { retrySleep = nil })

			status, err := ExchangeToken(context.Background(), Config{Endpoint: srv.URL,
				CABundle:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}),
				APIGroupSuffix: "pinniped.dev", AuthenticatorType: "jwt", AuthenticatorName: "supervisor"}, "the-id-token")

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
