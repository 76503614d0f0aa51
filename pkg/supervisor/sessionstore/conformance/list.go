// SPDX-License-Identifier: Apache-2.0

package conformance

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
)

func listIDs(t *testing.T, store sessionstore.Store, opts sessionstore.ListOptions) []string {
	t.Helper()
	got, err := store.List(t.Context(), opts)
	if err != nil {
		t.Fatalf("List(%+v): %v", opts, err)
	}
	ids := make([]string, 0, len(got))
	for _, s := range got {
		ids = append(ids, s.ID)
		if s.ResourceVersion == "" {
			t.Errorf("List returned %s without ResourceVersion", s.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

func sortedIDs(names ...string) []string {
	ids := make([]string, 0, len(names))
	for _, n := range names {
		ids = append(ids, ID(n))
	}
	slices.Sort(ids)
	return ids
}

func testList(t *testing.T, store sessionstore.Store) {
	now := baseTime()
	for _, f := range []struct {
		name, issuer, username string
		expires                time.Time
	}{
		{"a", "https://one", "alice", now.Add(time.Hour)},
		{"b", "https://one", "bob", now.Add(-time.Hour)},
		{"c", "https://two", "alice", now.Add(-2 * time.Hour)},
		{"d", "https://two", "bob", now.Add(2 * time.Hour)},
		{"e", "https://two", "alice", now},
	} {
		s := FullSession(ID(f.name))
		s.Issuer, s.Username, s.Expires = f.issuer, f.username, f.expires
		mustCreate(t, store, s)
	}
	tests := []struct {
		name string
		opts sessionstore.ListOptions
		want []string
	}{
		{name: "everything", want: sortedIDs("a", "b", "c", "d", "e")},
		{name: "issuer", opts: sessionstore.ListOptions{Issuer: "https://one"}, want: sortedIDs("a", "b")},
		{name: "username", opts: sessionstore.ListOptions{Username: "alice"}, want: sortedIDs("a", "c", "e")},
		{name: "expired before now excludes expiring exactly now", opts: sessionstore.ListOptions{ExpiredBefore: now}, want: sortedIDs("b", "c")},
		{name: "expired before, other zone", opts: sessionstore.ListOptions{ExpiredBefore: now.UTC().Add(time.Nanosecond)}, want: sortedIDs("b", "c", "e")},
		{name: "issuer and username", opts: sessionstore.ListOptions{Issuer: "https://two", Username: "bob"}, want: sortedIDs("d")},
		{name: "all three", opts: sessionstore.ListOptions{Issuer: "https://two", Username: "alice", ExpiredBefore: now}, want: sortedIDs("c")},
		{name: "unknown issuer", opts: sessionstore.ListOptions{Issuer: "https://three"}, want: []string{}},
		{name: "issuer prefix is not a match", opts: sessionstore.ListOptions{Issuer: "https://on"}, want: []string{}},
		{name: "nothing expired", opts: sessionstore.ListOptions{ExpiredBefore: now.Add(-3 * time.Hour)}, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, listIDs(t, store, tt.opts)); diff != "" {
				t.Errorf("List IDs (-want +got):\n%s", diff)
			}
		})
	}

	got, err := store.List(t.Context(), sessionstore.ListOptions{Issuer: "https://two", Username: "bob"})
	if err != nil || len(got) != 1 {
		t.Fatalf("List(d) = %d sessions, %v", len(got), err)
	}
	want := FullSession(ID("d"))
	want.Issuer, want.Username, want.Expires = "https://two", "bob", now.Add(2*time.Hour)
	if diff := Diff(want, got[0]); diff != "" {
		t.Errorf("listed session (-want +got):\n%s", diff)
	}
	if rv := mustGet(t, store, want.ID).ResourceVersion; got[0].ResourceVersion != rv {
		t.Errorf("listed ResourceVersion %q, Get says %q", got[0].ResourceVersion, rv)
	}
}

// testListSubSecond catches stores that round Expires (to seconds, say) when filtering.
func testListSubSecond(t *testing.T, store sessionstore.Store) {
	exp := time.Date(2026, time.August, 20, 10, 0, 0, 500_000_000, time.UTC)
	s := FullSession(ID("subsecond"))
	s.Expires = exp
	mustCreate(t, store, s)
	for _, tt := range []struct {
		before time.Time
		want   []string
	}{
		{exp.Add(-100 * time.Millisecond), []string{}},
		{exp, []string{}},
		{exp.Add(time.Nanosecond), []string{s.ID}},
	} {
		if diff := cmp.Diff(tt.want, listIDs(t, store, sessionstore.ListOptions{ExpiredBefore: tt.before})); diff != "" {
			t.Errorf("List(ExpiredBefore %s) (-want +got):\n%s", tt.before.Format(time.RFC3339Nano), diff)
		}
	}
}

// scribble changes every reference-typed field of s in place.
func scribble(s *sessionstore.Session) {
	s.GrantedScopes[0] = "scribbled"
	s.Groups[0] = "scribbled"
	s.UpstreamGroups[0] = "scribbled"
	s.AdditionalClaims["email"] = "scribbled"
	s.AdditionalClaims["nested"].(map[string]any)["list"].([]any)[0] = "scribbled"
	s.UpstreamData[0] = 'X'
	s.Code.Hash[0] = 0xff
	s.AccessTokens[0].Hash[0] = 0xff
	s.RefreshToken.Hash[0] = 0xff
	s.UsedRefreshTokens[0][0] = 0xff
	s.DeviceGrant.CodeHash[0] = 0xff
	s.DeviceGrant.Status = "scribbled"
}

func testNoAliasing(t *testing.T, store sessionstore.Store) {
	id := ID("aliasing")
	check := func(step string) {
		t.Helper()
		if diff := Diff(FullSession(id), mustGet(t, store, id)); diff != "" {
			t.Fatalf("after %s the stored session changed (-want +got):\n%s", step, diff)
		}
	}
	created := FullSession(id)
	mustCreate(t, store, created)
	scribble(created)
	check("changing the created value")

	scribble(mustGet(t, store, id))
	check("changing a Get result")

	listed, err := store.List(t.Context(), sessionstore.ListOptions{})
	if err != nil || len(listed) != 1 {
		t.Fatalf("List = %d sessions, %v", len(listed), err)
	}
	scribble(listed[0])
	check("changing a List result")

	updated := FullSession(id)
	updated.ResourceVersion = mustGet(t, store, id).ResourceVersion
	if err := store.Update(t.Context(), updated); err != nil {
		t.Fatalf("Update: %v", err)
	}
	scribble(updated)
	check("changing the updated value")
}

// testConcurrentUpdates runs read-modify-write loops in parallel on one session: with
// optimistic concurrency every writer eventually succeeds and no write is lost.
func testConcurrentUpdates(t *testing.T, store sessionstore.Store) {
	const writers, maxAttempts = 8, 200
	id := ID("concurrent")
	s := FullSession(id)
	s.Groups = nil
	mustCreate(t, store, s)

	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			errs[i] = appendGroup(t, store, id, fmt.Sprintf("group-%d", i), maxAttempts)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range writers {
		want = append(want, fmt.Sprintf("group-%d", i))
	}
	got := mustGet(t, store, id).Groups
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Groups after concurrent appends (-want +got):\n%s", diff)
	}
}

func appendGroup(t *testing.T, store sessionstore.Store, id, group string, maxAttempts int) error {
	for range maxAttempts {
		s, err := store.Get(t.Context(), id)
		if err != nil {
			return fmt.Errorf("%s: Get: %w", group, err)
		}
		s.Groups = append(s.Groups, group)
		err = store.Update(t.Context(), s)
		if errors.Is(err, sessionstore.ErrConflict) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: Update: %w", group, err)
		}
		return nil
	}
	return fmt.Errorf("%s: still conflicting after %d attempts", group, maxAttempts)
}
