// SPDX-License-Identifier: Apache-2.0

package oidcclient

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// refusedDials fails the first n token requests with the dial error of a closed port,
// without sending them.
type refusedDials struct {
	n    int
	next http.RoundTripper
}

func (d *refusedDials) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path == "/token" && d.n > 0 {
		d.n--
		req.Body.Close()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	return d.next.RoundTrip(req)
}

func TestRefreshRetriesOnlyWhatIsSafe(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name         string
		answers      []string
		refusedDials int
		wantRequests int
		wantSleeps   []time.Duration
		wantErr      string
		wantRefusal  bool
	}{
		{name: "503 twice, then tokens", answers: []string{"503", "503", ""}, wantRequests: 3, wantSleeps: []time.Duration{250 * ms, 500 * ms}},
		{name: "502 and 504, then tokens", answers: []string{"502", "504", ""}, wantRequests: 3, wantSleeps: []time.Duration{250 * ms, 500 * ms}},
		{name: "connection refused twice, then tokens", answers: []string{""}, refusedDials: 2, wantRequests: 1,
			wantSleeps: []time.Duration{250 * ms, 500 * ms}},
		{name: "connection refused every time", refusedDials: 4, wantSleeps: []time.Duration{250 * ms, 500 * ms, time.Second},
			wantErr: "dial tcp: connection refused"},
		{name: "503 every time", answers: []string{"503", "503", "503", "503"}, wantRequests: 4,
			wantSleeps: []time.Duration{250 * ms, 500 * ms, time.Second}, wantErr: "the token endpoint failed: 503 Service Unavailable"},
		{name: "500 is not retried", answers: []string{"500"}, wantRequests: 1, wantErr: "the token endpoint failed: 500 Internal Server Error"},
		{name: "server_error is not a refusal", answers: []string{"500 server_error"}, wantRequests: 1,
			wantErr: "the token endpoint failed: 500 Internal Server Error: server_error: scripted"},
		{name: "a connection dropped after the request is not retried", answers: []string{"reset"}, wantRequests: 1, wantErr: "EOF"},
		{name: "invalid_grant is a refusal", answers: []string{"invalid_grant"}, wantRequests: 1,
			wantErr: "the token endpoint refused the request: invalid_grant: scripted", wantRefusal: true},
		{name: "the upstream refresh error is a refusal", answers: []string{"401 error"}, wantRequests: 1,
			wantErr: "the token endpoint refused the request: error: scripted", wantRefusal: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeIssuer(t, tc.answers...)
			var log strings.Builder
			c, err := Discover(context.Background(), f.srv.URL, "pinniped-cli", f.srv.Client(),
				slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug})))
			if err != nil {
				t.Fatal(err)
			}
			if tc.refusedDials > 0 {
				c.HTTP = &http.Client{Transport: &refusedDials{n: tc.refusedDials, next: f.srv.Client().Transport}}
			}
			var sleeps []time.Duration
			c.Sleep = func(_ context.Context, d time.Duration) error { sleeps = append(sleeps, d); return nil }

			tokens, err := c.Refresh(context.Background(), "sel_rt_old.secret")

			if diff := cmp.Diff(tc.wantSleeps, sleeps); diff != "" {
				t.Errorf("sleeps (-want +got):\n%s", diff)
			}
			f.mu.Lock()
			forms := f.tokenForms
			f.mu.Unlock()
			if len(forms) != tc.wantRequests {
				t.Errorf("%d token requests, want %d", len(forms), tc.wantRequests)
			}
			for _, form := range forms {
				want := url.Values{"client_id": {"pinniped-cli"}, "grant_type": {"refresh_token"}, "refresh_token": {"sel_rt_old.secret"}}
				if diff := cmp.Diff(want, form); diff != "" {
					t.Errorf("token form (-want +got):\n%s", diff)
				}
			}
			if strings.Contains(log.String(), "sel_rt_") {
				t.Errorf("a token was logged:\n%s", log.String())
			}
			if got := strings.Count(log.String(), "retrying a request"); got != len(tc.wantSleeps) {
				t.Errorf("%d retries logged, want %d:\n%s", got, len(tc.wantSleeps), log.String())
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tokens.RefreshToken != "sel_rt_a.b" || tokens.IDClaims["username"] != "alice" {
					t.Errorf("tokens %+v", tokens)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			var te *TokenError
			if refusal := errors.As(err, &te); refusal != tc.wantRefusal || errors.Is(err, ErrTokenEndpoint) != tc.wantRefusal {
				t.Errorf("error %v is a refusal: %v, want %v", err, refusal, tc.wantRefusal)
			}
		})
	}
}
