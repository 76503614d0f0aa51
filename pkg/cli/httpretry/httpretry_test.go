// SPDX-License-Identifier: Apache-2.0

package httpretry

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// scriptedServer answers the requests it gets in turn: "<status>" or
// "<status>|<Retry-After>", or "reset" to drop the connection after reading the request.
type scriptedServer struct {
	t       *testing.T
	srv     *httptest.Server
	answers []string

	mu     sync.Mutex
	bodies []string
}

func newScriptedServer(t *testing.T, answers ...string) *scriptedServer {
	s := &scriptedServer{t: t, answers: answers}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *scriptedServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, string(body))
	if len(s.answers) == 0 {
		s.mu.Unlock()
		s.t.Errorf("request after the last answer")
		http.Error(w, "no more answers", http.StatusTeapot)
		return
	}
	answer, retryAfter, _ := strings.Cut(s.answers[0], "|")
	s.answers = s.answers[1:]
	s.mu.Unlock()
	if answer == "reset" {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			s.t.Error(err)
			return
		}
		conn.Close()
		return
	}
	status, _ := strconv.Atoi(answer)
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	http.Error(w, http.StatusText(status), status)
}

func (s *scriptedServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodies
}

// failingTransport fails its first failures round trips with err, without sending them.
type failingTransport struct {
	err      error
	failures int
	next     http.RoundTripper
}

func (f *failingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if f.failures > 0 {
		f.failures--
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, f.err
	}
	return f.next.RoundTrip(req)
}

func TestDo(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	noSuchHost := &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "supervisor.example.com", IsNotFound: true}}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	ms := time.Millisecond
	for _, tc := range []struct {
		name        string
		answers     []string
		transport   *failingTransport
		timeout     time.Duration
		wantBodies  int
		wantSleeps  []time.Duration
		wantStatus  int
		wantErr     string
		sleepFailed bool
	}{
		{name: "503 twice, then 200", answers: []string{"503", "503", "200"}, wantBodies: 3, wantSleeps: []time.Duration{250 * ms, 500 * ms}, wantStatus: 200},
		{name: "502, 504 and 429, then 200", answers: []string{"502", "504", "429", "200"}, wantBodies: 4,
			wantSleeps: []time.Duration{250 * ms, 500 * ms, time.Second}, wantStatus: 200},
		{name: "503 every time", answers: []string{"503", "503", "503", "503"}, wantBodies: 4,
			wantSleeps: []time.Duration{250 * ms, 500 * ms, time.Second}, wantStatus: 503},
		{name: "500 is not retried", answers: []string{"500"}, wantBodies: 1, wantStatus: 500},
		{name: "400 is not retried", answers: []string{"400"}, wantBodies: 1, wantStatus: 400},
		{name: "Retry-After is honoured", answers: []string{"429|2", "200"}, wantBodies: 2, wantSleeps: []time.Duration{2 * time.Second}, wantStatus: 200},
		{name: "Retry-After shorter than the backoff", answers: []string{"503|0", "200"}, wantBodies: 2, wantSleeps: []time.Duration{250 * ms}, wantStatus: 200},
		{name: "Retry-After too long", answers: []string{"503|60"}, wantBodies: 1, wantStatus: 503},
		{name: "Retry-After as a far date", answers: []string{"503|Wed, 21 Oct 2099 07:28:00 GMT"}, wantBodies: 1, wantStatus: 503},
		{name: "Retry-After past the deadline", answers: []string{"503|3"}, timeout: 2 * time.Second, wantBodies: 1, wantStatus: 503},
		{name: "connection refused twice, then 200", answers: []string{"200"}, transport: &failingTransport{err: refused, failures: 2},
			wantBodies: 1, wantSleeps: []time.Duration{250 * ms, 500 * ms}, wantStatus: 200},
		{name: "DNS failure, then 200", answers: []string{"200"}, transport: &failingTransport{err: noSuchHost, failures: 1},
			wantBodies: 1, wantSleeps: []time.Duration{250 * ms}, wantStatus: 200},
		{name: "connection refused every time", transport: &failingTransport{err: refused, failures: 4},
			wantSleeps: []time.Duration{250 * ms, 500 * ms, time.Second}, wantErr: "connection refused"},
		{name: "a reset while reading is not retried", transport: &failingTransport{err: reset, failures: 1}, wantErr: "connection reset"},
		{name: "a dropped connection after the request is not retried", answers: []string{"reset"}, wantBodies: 1, wantErr: "EOF"},
		{name: "cancelled while waiting", answers: []string{"503"}, sleepFailed: true, wantBodies: 1, wantSleeps: []time.Duration{250 * ms},
			wantErr: "503 Service Unavailable, and gave up waiting to retry: context canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScriptedServer(t, tc.answers...)
			client := s.srv.Client()
			if tc.transport != nil {
				tc.transport.next = client.Transport
				client = &http.Client{Transport: tc.transport}
			}
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			var sleeps []time.Duration
			resp, err := Do(ctx, client, func() (*http.Request, error) {
				return http.NewRequestWithContext(ctx, http.MethodPost, s.srv.URL+"/token", strings.NewReader("grant_type=refresh_token"))
			}, Options{Sleep: func(_ context.Context, d time.Duration) error {
				sleeps = append(sleeps, d)
				if tc.sleepFailed {
					return context.Canceled
				}
				return nil
			}})
			if resp != nil {
				defer resp.Body.Close()
			}
			if diff := cmp.Diff(tc.wantSleeps, sleeps); diff != "" {
				t.Errorf("sleeps (-want +got):\n%s", diff)
			}
			bodies := s.requests()
			if len(bodies) != tc.wantBodies {
				t.Errorf("%d requests reached the server, want %d", len(bodies), tc.wantBodies)
			}
			for i, b := range bodies {
				if b != "grant_type=refresh_token" {
					t.Errorf("request %d has the body %q", i, b)
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
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
		})
	}
}

// A real closed port: the dial fails, every attempt.
func TestDoRetriesARefusedConnection(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var sleeps int
	_, err = Do(context.Background(), &http.Client{}, func() (*http.Request, error) {
		return http.NewRequest(http.MethodPost, "http://"+addr+"/token", strings.NewReader("x"))
	}, Options{Sleep: func(context.Context, time.Duration) error { sleeps++; return nil }})
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		t.Errorf("error %v, want a dial error", err)
	}
	if sleeps != Attempts-1 {
		t.Errorf("%d retries, want %d", sleeps, Attempts-1)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"Thu, 01 Jan 2026 12:00:04 GMT", 4 * time.Second, true},
		{"Thu, 01 Jan 2026 11:00:00 GMT", 0, true},
		{"99999999999999", time.Hour, true},
	} {
		got, ok := retryAfter(tc.header, now)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", tc.header, got, ok, tc.want, tc.wantOK)
		}
	}
}
