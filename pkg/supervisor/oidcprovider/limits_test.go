// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
)

// writeCountingStore counts session writes.
type writeCountingStore struct {
	sessionstore.Store
	writes atomic.Int32
}

func (s *writeCountingStore) Create(ctx context.Context, x *sessionstore.Session) error {
	s.writes.Add(1)
	return s.Store.Create(ctx, x)
}

func (s *writeCountingStore) Update(ctx context.Context, x *sessionstore.Session) error {
	s.writes.Add(1)
	return s.Store.Update(ctx, x)
}

// limitedDeviceFixture is a device fixture with the given limits on its clock.
func limitedDeviceFixture(t *testing.T, cfg LimitsConfig) (*deviceFixture, *writeCountingStore) {
	t.Helper()
	f := newDeviceFixture(t)
	cfg.Clock = func() time.Time { return f.now }
	f.p.cfg.Limits = NewLimits(cfg)
	store := &writeCountingStore{Store: f.p.cfg.Store}
	f.p.cfg.Store = store
	return f, store
}

func from(addr string) func(*http.Request) {
	return func(r *http.Request) { r.RemoteAddr = addr + ":40000" }
}

// TestDeviceAuthorizationFlood: each device authorization stores a session before anyone
// logs in, so starts are limited per client address and in total.
func TestDeviceAuthorizationFlood(t *testing.T) {
	t.Parallel()
	f, store := limitedDeviceFixture(t, DefaultLimits())
	created := 0
	for i := range 100 {
		status, body := f.post(PathDeviceAuthorization, deviceParams(), from("192.0.2.1"))
		switch {
		case status == http.StatusOK:
			created++
		case status == http.StatusTooManyRequests && body["error"] == errTooManyRequests:
		default:
			t.Fatalf("request %d: %d %v", i, status, body)
		}
	}
	if burst := DefaultLimits().DeviceAuthorizations.Burst; created != burst || int(store.writes.Load()) != burst {
		t.Errorf("one address started %d device logins (%d sessions written), want the burst of %d", created, store.writes.Load(), burst)
	}
	if status, _ := f.post(PathDeviceAuthorization, deviceParams(), from("192.0.2.2")); status != http.StatusOK {
		t.Errorf("another address was refused: %d", status)
	}

	// The total bound, whatever the addresses.
	g, _ := limitedDeviceFixture(t, LimitsConfig{MaxPendingDeviceLogins: 5})
	for i := range 6 {
		status, _ := g.post(PathDeviceAuthorization, deviceParams(), from("198.51.100."+strconv.Itoa(i+1)))
		if want := map[bool]int{true: http.StatusOK, false: http.StatusTooManyRequests}[i < 5]; status != want {
			t.Errorf("device login %d: %d, want %d", i+1, status, want)
		}
	}
	g.advance(deviceCodeLifetime + deviceSessionGrace + time.Second)
	if status, _ := g.post(PathDeviceAuthorization, deviceParams(), from("198.51.100.9")); status != http.StatusOK {
		t.Errorf("once the pending logins expired: %d, want 200", status)
	}
}

// TestDevicePollsWriteNothing: polling, even too fast, must not rewrite the session.
func TestDevicePollsWriteNothing(t *testing.T) {
	t.Parallel()
	f, store := limitedDeviceFixture(t, LimitsConfig{})
	deviceCode, _ := f.authorize(t)
	before := store.writes.Load()
	poll := url.Values{"grant_type": {GrantDeviceCode}, "device_code": {deviceCode}, "client_id": {CLIClientID}}
	want := []string{errAuthorizationPending, errSlowDown, errSlowDown}
	for i, w := range want {
		if _, body := f.post(PathToken, poll, nil); body["error"] != w {
			t.Errorf("poll %d: %v, want %s", i+1, body, w)
		}
	}
	f.advance(15 * time.Second) // the interval is now 15 s
	if _, body := f.post(PathToken, poll, nil); body["error"] != errAuthorizationPending {
		t.Errorf("a poll after the longer interval: %v", body)
	}
	if n := store.writes.Load() - before; n != 0 {
		t.Errorf("polls wrote the session %d times, want 0", n)
	}
}

// TestPasswordGuessing: failed passwords are counted per username and per address; past
// the burst, attempts never reach the upstream.
func TestPasswordGuessing(t *testing.T) {
	t.Parallel()
	p, idp := newTestProvider(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p.cfg.Limits = NewLimits(LimitsConfig{PasswordFailuresPerUsername: DefaultLimits().PasswordFailuresPerUsername,
		PasswordFailuresPerAddress: DefaultLimits().PasswordFailuresPerAddress, Clock: func() time.Time { return now }})
	guess := func(user, pass, addr string) int {
		r := httptest.NewRequest(http.MethodGet, issuer+PathAuthorize+"?"+authorizeParams().Encode(), nil)
		r.Header.Set(headerUsername, user)
		r.Header.Set(headerPassword, pass)
		r.RemoteAddr = addr + ":1"
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)
		if w.Code == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		return w.Code
	}
	burst := DefaultLimits().PasswordFailuresPerUsername.Burst
	for i := range burst {
		if got := guess("alice", "wrong"+strconv.Itoa(i), "192.0.2.1"); got != http.StatusFound {
			t.Fatalf("guess %d: %d, want the 302 with access_denied", i+1, got)
		}
	}
	calls := idp.logins.Load()
	for _, addr := range []string{"192.0.2.1", "203.0.113.5"} { // a new address does not help
		if got := guess("Alice ", "wrong", addr); got != http.StatusTooManyRequests {
			t.Errorf("guess past the burst from %s: %d, want 429", addr, got)
		}
	}
	if got := guess("alice", "pw", "192.0.2.1"); got != http.StatusTooManyRequests {
		t.Errorf("even the right password waits: %d, want 429", got)
	}
	if idp.logins.Load() != calls {
		t.Errorf("refused attempts reached the upstream %d times", idp.logins.Load()-calls)
	}
	if got := guess("bob", "x", "192.0.2.1"); got != http.StatusFound {
		t.Errorf("another user: %d, want 302", got)
	}
	now = now.Add(time.Minute)
	if got := guess("alice", "pw", "192.0.2.1"); got != http.StatusFound {
		t.Errorf("after a minute: %d, want 302", got)
	}
}

// TestClientSecretChecks: a right secret costs bcrypt once; wrong ones are counted per
// client and, past the burst, cost nothing.
func TestClientSecretChecks(t *testing.T) {
	t.Parallel()
	f, _ := limitedDeviceFixture(t, LimitsConfig{ClientSecretFailures: DefaultLimits().ClientSecretFailures})
	hashes := make([][]byte, 3)
	for i := range hashes {
		hashes[i], _ = bcrypt.GenerateFromPassword([]byte("secret-"+strconv.Itoa(i)), bcrypt.MinCost)
	}
	f.p.cfg.Clients = func(_ context.Context, id string) (*Client, error) {
		if id != "my-app" {
			return nil, ErrUnknownClient
		}
		return &Client{ID: id, SecretHashes: hashes, GrantTypes: []string{GrantRefreshToken}, Scopes: []string{ScopeOpenID}}, nil
	}
	var compares atomic.Int32
	f.p.cfg.Limits.secrets.compare = func(h, pw []byte) error { compares.Add(1); return bcrypt.CompareHashAndPassword(h, pw) }
	revoke := func(secret string) int {
		status, _ := f.post(PathRevoke, url.Values{"token": {"x"}}, func(r *http.Request) { r.SetBasicAuth("my-app", secret) })
		return status
	}
	for i := range 3 {
		if got := revoke("secret-2"); got != http.StatusOK {
			t.Fatalf("right secret, try %d: %d", i+1, got)
		}
	}
	if n := compares.Load(); n != 3 {
		t.Errorf("three authentications with the right secret cost %d bcrypt comparisons, want 3 (once, against each hash)", n)
	}
	compares.Store(0)
	burst := DefaultLimits().ClientSecretFailures.Burst
	for i := range burst + 10 {
		got := revoke("wrong")
		if want := map[bool]int{true: http.StatusUnauthorized, false: http.StatusTooManyRequests}[i < burst]; got != want {
			t.Fatalf("wrong secret %d: %d, want %d", i+1, got, want)
		}
	}
	if n, want := compares.Load(), int32(burst*len(hashes)); n != want {
		t.Errorf("%d wrong secrets cost %d comparisons, want %d (none past the burst)", burst+10, n, want)
	}
	if got := revoke("secret-2"); got != http.StatusOK {
		t.Errorf("the remembered right secret during the attack: %d, want 200", got)
	}
}
