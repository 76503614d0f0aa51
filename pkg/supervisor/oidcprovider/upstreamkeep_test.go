// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// rotatingIdP is an upstream that rotates its refresh token on every refresh, as Dex
// and Okta do: only the data it answered last refreshes again.
type rotatingIdP struct {
	fakeIdP
	mu      sync.Mutex
	current string
	refused int
}

func (f *rotatingIdP) Login(ctx context.Context, u, p string) (*upstream.Identity, error) {
	id, err := f.fakeIdP.Login(ctx, u, p)
	if err == nil {
		f.mu.Lock()
		f.current = "rt-0"
		id.UpstreamData = []byte(f.current)
		f.mu.Unlock()
	}
	return id, err
}

func (f *rotatingIdP) Refresh(_ context.Context, prev *upstream.Identity) (*upstream.Identity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if string(prev.UpstreamData) != f.current {
		f.refused++
		return nil, errors.New("refresh token is invalid or has already been claimed")
	}
	n, _ := strconv.Atoi(f.current[len("rt-"):])
	f.current = "rt-" + strconv.Itoa(n+1)
	return &upstream.Identity{Subject: prev.Subject, Username: "alice", Groups: f.groups, UpstreamData: []byte(f.current)}, nil
}

// faultyStore fails the next updates as an unreachable API server would (fail), or
// makes them lose a race (conflict): someone else writes the session first, unchanged,
// as the keeper's writer storing the data a refresh presented upstream would leave it to
// the naked eye, and the update fails with a conflict.
type faultyStore struct {
	sessionstore.Store
	mu             sync.Mutex
	fail, conflict int
}

// take uses up one of *n, reporting whether there was one.
func (s *faultyStore) take(n *int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if *n == 0 {
		return false
	}
	*n--
	return true
}

func (s *faultyStore) Update(ctx context.Context, x *sessionstore.Session) error {
	switch {
	case s.take(&s.fail):
		return errors.New("connection refused")
	case s.take(&s.conflict):
		current, err := s.Store.Get(ctx, x.ID)
		if err != nil {
			return err
		}
		if err := s.Store.Update(ctx, current); err != nil {
			return err
		}
		return sessionstore.ErrConflict
	}
	return s.Store.Update(ctx, x)
}

func (s *faultyStore) failNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = n
}

// A refresh whose upstream call rotated the upstream's token but whose session write
// failed must not lose the new upstream token: the client keeps its refresh token (it
// got an error), and its next refresh must still work upstream, on this replica at once
// and on any replica once the store takes writes again.
func TestRefreshKeepsUpstreamTokensTheStoreCouldNotTake(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvider(t)
	idp := &rotatingIdP{fakeIdP: fakeIdP{groups: []string{"a"}}}
	p.cfg.IdPs = []IdP{{DisplayName: "corp", Provider: idp}}
	store := &faultyStore{Store: p.cfg.Store}
	p.cfg.Store = store
	p.upstream.retry = 10 * time.Millisecond

	rt := passwordLogin(t, p)["refresh_token"].(string)
	refresh := func() (int, map[string]any) {
		return doToken(p, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {CLIClientID}})
	}

	// The store fails the write and its retries for a while: the same replica still
	// refreshes, with the data the upstream answered last.
	store.failNext(1_000_000)
	if status, body := refresh(); status != http.StatusInternalServerError {
		t.Fatalf("refresh with a failing store: %d %v, want 500", status, body)
	}
	if status, body := refresh(); status != http.StatusInternalServerError {
		t.Fatalf("second refresh with a failing store: %d %v, want 500", status, body)
	}
	if idp.refused != 0 {
		t.Fatalf("the upstream refused %d refreshes: the replica presented replaced upstream tokens", idp.refused)
	}

	// Once the store takes writes, the kept data is stored without a refresh, so any
	// replica (here: one that kept nothing) refreshes.
	store.failNext(0)
	waitForUpstreamData(t, store, "rt-2")
	body := refreshOnAnotherReplica(t, p, rt, idp)
	if next := body["refresh_token"]; next == rt || next == "" {
		t.Errorf("refresh token not rotated: %v", next)
	}
}

// waitForUpstreamData waits until the store's one session holds want as upstream data.
func waitForUpstreamData(t *testing.T, store sessionstore.Store, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		sessions, err := store.List(context.Background(), sessionstore.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(sessions) == 1 && string(sessions[0].UpstreamData) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the session's upstream data %q was not stored: %q", want, sessions[0].UpstreamData)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// refreshOnAnotherReplica refreshes with rt through a new provider of p's configuration
// (one that kept nothing) and wants it to work without the upstream refusing anything.
func refreshOnAnotherReplica(t *testing.T, p *Provider, rt string, idp *rotatingIdP) map[string]any {
	t.Helper()
	other, err := New(p.cfg)
	if err != nil {
		t.Fatal(err)
	}
	status, body := doToken(other, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {CLIClientID}})
	if status != http.StatusOK || idp.refused != 0 {
		t.Fatalf("refresh on another replica: %d %v (upstream refused %d)", status, body, idp.refused)
	}
	return body
}

// A refresh that lost a race for the session after the upstream rotated its token must
// keep what the upstream answered: the session still holds the data the refresh
// presented, which the upstream no longer accepts. (Seen when a management API server
// came back: the keeper's writer and the next refreshes wrote the same session at once,
// and the session's upstream token was lost for good.)
func TestRefreshKeepsUpstreamTokensAfterAConflict(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvider(t)
	idp := &rotatingIdP{fakeIdP: fakeIdP{groups: []string{"a"}}}
	p.cfg.IdPs = []IdP{{DisplayName: "corp", Provider: idp}}
	store := &faultyStore{Store: p.cfg.Store}
	p.cfg.Store = store
	p.upstream.retry = 10 * time.Millisecond

	rt := passwordLogin(t, p)["refresh_token"].(string)
	store.mu.Lock()
	store.conflict = 1
	store.mu.Unlock()
	if status, body := doToken(p, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {CLIClientID}}); status != http.StatusBadRequest {
		t.Fatalf("refresh that lost the race: %d %v, want 400", status, body)
	}
	waitForUpstreamData(t, store, "rt-1")
	// The client still holds its refresh token (it got an error); any replica refreshes.
	refreshOnAnotherReplica(t, p, rt, idp)
}
