// SPDX-License-Identifier: Apache-2.0

package logincmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/selkie-dev/selkie/pkg/cli/cache"
	"github.com/selkie-dev/selkie/pkg/cli/httpretry"
	"github.com/selkie-dev/selkie/pkg/cli/internal/oidcclient"
)

// newRefusingIssuer is an issuer whose token endpoint answers every request with answer:
// "reset" drops the connection, "<status> <code>" is that status with that OAuth error.
func newRefusingIssuer(t *testing.T, answer string, requests *atomic.Int32) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": srv.URL, "authorization_endpoint": srv.URL + "/authorize",
				"token_endpoint": srv.URL + "/token", "jwks_uri": srv.URL + "/jwks"})
		case "/token":
			requests.Add(1)
			if answer == "reset" {
				if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
					conn.Close()
				}
				return
			}
			statusText, code, _ := strings.Cut(answer, " ")
			status, _ := strconv.Atoi(statusText)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": "scripted"})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// refusedDials fails every request with the dial error of a closed port.
type refusedDials struct{}

func (refusedDials) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
}

// A refresh the supervisor refuses means the session is over: log in again. One that
// fails otherwise (the supervisor's pods are being replaced) starts no login, which
// could not succeed without a terminal, and keeps the session for the next call.
func TestRefreshFailure(t *testing.T) {
	for _, tc := range []struct {
		name            string
		answer          string
		wantErr         string
		wantInteractive bool
		refusedDials    bool
		wantRequests    int32
	}{
		{name: "invalid_grant", answer: "400 invalid_grant", wantRequests: 1, wantErr: "no terminal to prompt", wantInteractive: true},
		{name: "the upstream refresh failed", answer: "401 error", wantRequests: 1, wantErr: "no terminal to prompt", wantInteractive: true},
		{name: "connection refused", refusedDials: true, wantRequests: 0, wantErr: "(no new login was started): token request: Post"},
		{name: "503 every time", answer: "503 temporarily_unavailable", wantRequests: httpretry.Attempts,
			wantErr: "(no new login was started): the token endpoint failed: 503 Service Unavailable: temporarily_unavailable: scripted"},
		{name: "connection dropped", answer: "reset", wantRequests: 1, wantErr: "(no new login was started): token request: "},
		{name: "server error", answer: "500 server_error", wantRequests: 1,
			wantErr: "(no new login was started): the token endpoint failed: 500 Internal Server Error: server_error: scripted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var requests atomic.Int32
			srv := newRefusingIssuer(t, tc.answer, &requests)
			f := &oidcFlags{issuer: srv.URL, clientID: "pinniped-cli", scopes: []string{"openid", "offline_access"},
				sessionCache: filepath.Join(t.TempDir(), "sessions.yaml"), idpFlow: flowPassword}
			key := (&OIDCArgs{Issuer: f.issuer, ClientID: f.clientID, Scopes: f.scopes}).SessionKey()
			sessions := cache.NewSessionCache(f.sessionCache)
			sessions.Put(key, &cache.Tokens{Refresh: &cache.RefreshToken{Token: "sel_rt_old.secret"}})
			deps := testDeps(nil, &bytes.Buffer{})
			ttys := 0
			deps.OpenTTY = func() (io.ReadWriteCloser, error) { ttys++; return nil, errors.New("no terminal") }
			l := &oidcLogin{deps: deps, f: f, http: srv.Client()}
			client, err := oidcclient.Discover(context.Background(), srv.URL, f.clientID, srv.Client(), nil)
			if err != nil {
				t.Fatal(err)
			}
			client.Sleep = func(context.Context, time.Duration) error { return nil }
			if tc.refusedDials {
				client.HTTP = &http.Client{Transport: refusedDials{}}
			}
			l.client = client

			_, _, err = l.idToken(context.Background())

			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if !tc.wantInteractive && !strings.HasPrefix(err.Error(), "could not refresh the session at "+srv.URL+" ") {
				t.Errorf("error %q does not name the issuer", err)
			}
			if interactive := ttys > 0; interactive != tc.wantInteractive {
				t.Errorf("interactive login started: %v, want %v", interactive, tc.wantInteractive)
			}
			if n := requests.Load(); n != tc.wantRequests {
				t.Errorf("%d token requests, want %d", n, tc.wantRequests)
			}
			if got := sessions.Get(key); got == nil || got.Refresh == nil || got.Refresh.Token != "sel_rt_old.secret" || got.ID != nil || got.Access != nil {
				t.Errorf("the cached session changed: %+v", got)
			}
		})
	}
}
