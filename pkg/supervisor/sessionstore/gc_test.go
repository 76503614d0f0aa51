// SPDX-License-Identifier: Apache-2.0

package sessionstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore/conformance"
)

// faultyStore fails Delete for chosen IDs and List when listErr is set.
type faultyStore struct {
	sessionstore.Store
	deleteErr map[string]error
	listErr   error
}

func (s faultyStore) Delete(ctx context.Context, id, rv string) error {
	if err := s.deleteErr[id]; err != nil {
		return err
	}
	return s.Store.Delete(ctx, id, rv)
}

func (s faultyStore) List(ctx context.Context, opts sessionstore.ListOptions) ([]*sessionstore.Session, error) {
	if s.listErr != nil {
		return nil, s.listErr
	}
	return s.Store.List(ctx, opts)
}

func remainingIDs(t *testing.T, store sessionstore.Store) []string {
	t.Helper()
	all, err := store.List(t.Context(), sessionstore.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, s := range all {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	return ids
}

type gcCase struct {
	name        string
	revoke      func(s *sessionstore.Session) error
	deleteErr   map[string]error
	listErr     error
	wantDeleted int
	wantErr     string
	wantLeft    []string
	wantLog     []string
}

// gcIDs are the sessions every case starts with: two expired, one expiring exactly
// now (live).
type gcIDs struct{ expired1, expired2, live string }

func newGCIDs() gcIDs {
	return gcIDs{conformance.ID("expired-1"), conformance.ID("expired-2"), conformance.ID("live")}
}

func gcOnceCases(ids gcIDs) []gcCase {
	gcExpired1, gcExpired2, gcLive := ids.expired1, ids.expired2, ids.live
	return []gcCase{
		{name: "no revoke function", wantDeleted: 2, wantLeft: []string{gcLive}},
		{name: "revoked", revoke: func(*sessionstore.Session) error { return nil }, wantDeleted: 2, wantLeft: []string{gcLive}},
		{
			name:   "revoke fails: deleted anyway",
			revoke: func(s *sessionstore.Session) error { return fmt.Errorf("upstream said 500 for %s", s.ID) },
			// The session ID is in the log with the upstream's error.
			wantDeleted: 2, wantLeft: []string{gcLive}, wantLog: []string{"deleting expired session anyway", "session=" + gcExpired1},
		},
		{
			name: "retry later: kept for the next round",
			revoke: func(s *sessionstore.Session) error {
				if s.ID == gcExpired1 {
					return fmt.Errorf("dial upstream: %w", sessionstore.ErrRetryLater)
				}
				return nil
			},
			wantDeleted: 1, wantLeft: sortedStrings(gcExpired1, gcLive), wantLog: []string{"revocation deferred", "session=" + gcExpired1},
		},
		{
			name:        "deleted or changed concurrently: skipped quietly",
			deleteErr:   map[string]error{gcExpired1: fmt.Errorf("x: %w", sessionstore.ErrConflict), gcExpired2: fmt.Errorf("x: %w", sessionstore.ErrNotFound)},
			wantDeleted: 0, wantLeft: sortedStrings(gcExpired1, gcExpired2, gcLive),
		},
		{
			name:        "delete fails: the others are still collected",
			deleteErr:   map[string]error{gcExpired1: errors.New("apiserver unavailable")},
			wantDeleted: 1, wantErr: "delete session " + gcExpired1 + ": apiserver unavailable", wantLeft: sortedStrings(gcExpired1, gcLive),
		},
		{name: "list fails", listErr: errors.New("boom"), wantErr: "list expired sessions: boom", wantLeft: sortedStrings(gcExpired1, gcExpired2, gcLive)},
	}
}

func TestGCOnce(t *testing.T) {
	t.Parallel()
	ids := newGCIDs()
	for _, tt := range gcOnceCases(ids) {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runGCOnceCase(t, ids, tt)
		})
	}
}

func runGCOnceCase(t *testing.T, ids gcIDs, tt gcCase) {
	t.Helper()
	gcExpired1, gcExpired2, gcLive := ids.expired1, ids.expired2, ids.live
	clock := newFakeClock()
	mem := sessionstore.NewMemoryStore()
	for id, expires := range map[string]time.Time{
		gcExpired1: clock.Now().Add(-time.Hour), gcExpired2: clock.Now().Add(-time.Nanosecond), gcLive: clock.Now(),
	} {
		s := conformance.FullSession(id)
		s.Expires = expires
		if err := mem.Create(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var revoked []string
	logs := &bytes.Buffer{}
	gc := &sessionstore.GC{
		Store: faultyStore{Store: mem, deleteErr: tt.deleteErr, listErr: tt.listErr},
		Clock: clock.Now,
		Log:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if tt.revoke != nil {
		gc.Revoke = func(_ context.Context, s *sessionstore.Session) error {
			mu.Lock()
			defer mu.Unlock()
			revoked = append(revoked, s.ID)
			if len(s.UpstreamData) == 0 {
				return errors.New("revoke got no upstream data")
			}
			return tt.revoke(s)
		}
	}
	deleted, err := gc.Once(t.Context())
	if deleted != tt.wantDeleted {
		t.Errorf("deleted = %d, want %d", deleted, tt.wantDeleted)
	}
	if got := fmt.Sprint(err); (tt.wantErr == "") != (err == nil) || !strings.Contains(got, tt.wantErr) {
		t.Errorf("error = %v, want %q", err, tt.wantErr)
	}
	if diff := cmp.Diff(tt.wantLeft, remainingIDs(t, mem)); diff != "" {
		t.Errorf("remaining sessions (-want +got):\n%s", diff)
	}
	if tt.revoke != nil {
		slices.Sort(revoked)
		if diff := cmp.Diff(sortedStrings(gcExpired1, gcExpired2), revoked); diff != "" {
			t.Errorf("revoked (-want +got):\n%s", diff)
		}
	}
	for _, want := range tt.wantLog {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

// TestGCRetryLaterIsBounded: an upstream that always asks to retry keeps a session
// only until it expired MaxRetryAge ago.
func TestGCRetryLaterIsBounded(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	store := sessionstore.NewMemoryStore()
	s := conformance.FullSession(conformance.ID("stubborn"))
	s.Expires = clock.Now().Add(-time.Minute)
	if err := store.Create(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	gc := &sessionstore.GC{
		Store:       store,
		Clock:       clock.Now,
		MaxRetryAge: time.Hour,
		Log:         slog.New(slog.DiscardHandler),
		Revoke:      func(context.Context, *sessionstore.Session) error { return sessionstore.ErrRetryLater },
	}
	for _, step := range []struct {
		advance     time.Duration
		wantDeleted int
	}{{0, 0}, {58 * time.Minute, 0}, {time.Minute, 1}} {
		clock.Advance(step.advance)
		deleted, err := gc.Once(t.Context())
		if err != nil || deleted != step.wantDeleted {
			t.Fatalf("at %s after expiry: deleted %d, %v; want %d", clock.Now().Sub(s.Expires), deleted, err, step.wantDeleted)
		}
	}
}

func TestGCRun(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		store := sessionstore.NewMemoryStore()
		ctx, cancel := context.WithCancel(t.Context())
		gc := &sessionstore.GC{Store: store, Interval: time.Minute, Log: slog.New(slog.DiscardHandler)}
		done := make(chan struct{})
		go func() {
			defer close(done)
			gc.Run(ctx)
		}()
		// Expires in 30s: the first round (at once) keeps it, the one a minute later
		// deletes it.
		s := conformance.FullSession(conformance.ID("run"))
		s.Expires = time.Now().Add(30 * time.Second)
		if err := store.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := remainingIDs(t, store); len(got) != 1 {
			t.Fatalf("before the second round: %v", got)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := remainingIDs(t, store); len(got) != 0 {
			t.Errorf("after the second round: %v", got)
		}
		cancel()
		<-done
	})
}
