// SPDX-License-Identifier: Apache-2.0

// Package conformance is the test suite every sessionstore.Store implementation passes:
// round trips of every field, the ErrNotFound/ErrAlreadyExists/ErrConflict contract,
// List filters, isolation of returned copies and concurrent read-modify-write. It
// does not test what is specific to one store (sealing, Secret layout).
package conformance

import (
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
)

// RunTests runs the suite; newStore must return a new, empty store for each subtest.
func RunTests(t *testing.T, newStore func(t *testing.T) sessionstore.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s sessionstore.Store)
	}{
		{"CreateGetRoundTrip", testCreateGet},
		{"NilAndEmptyAreNormalised", testNilAndEmpty},
		{"CreateInvalidID", testCreateInvalidID},
		{"GetMissing", testGetMissing},
		{"CreateDuplicate", testCreateDuplicate},
		{"Update", testUpdate},
		{"UpdateMissing", testUpdateMissing},
		{"DeviceGrantLifecycle", testDeviceGrant},
		{"Delete", testDelete},
		{"DeleteMissing", testDeleteMissing},
		{"List", testList},
		{"ListSubSecondExpiry", testListSubSecond},
		{"CopiesAreNotAliased", testNoAliasing},
		{"ConcurrentReadModifyWrite", testConcurrentUpdates},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, newStore(t))
		})
	}
}

// ID returns a valid session ID (26 characters of lower-case base32) derived from name.
func ID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:16]))
}

// baseTime has nanoseconds and a zone other than UTC, so stores that lose either fail.
func baseTime() time.Time {
	return time.Date(2026, time.August, 20, 10, 11, 12, 123456789, time.FixedZone("CEST", 2*60*60))
}

// FullSession returns a session with every field set. AdditionalClaims hold only the
// types encoding/json produces, which every store returns unchanged.
func FullSession(id string) *sessionstore.Session {
	at := baseTime()
	return &sessionstore.Session{
		ID:            id,
		Issuer:        "https://issuer.example.com/a",
		ClientID:      "selkie-cli",
		GrantedScopes: []string{"openid", "offline_access", "username", "groups"},
		RedirectURI:   "http://127.0.0.1:12345/callback",
		Nonce:         "nonce-1",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		AuthTime:      at,
		Expires:       at.Add(7 * 24 * time.Hour),
		IdP: sessionstore.IdP{
			DisplayName: "Corporate OIDC", Type: "oidc", Kind: "OIDCIdentityProvider",
			Name: "corp", UID: "0f8fad5b-d9cb-469f-a165-70867728950e",
		},
		Subject:  "https://issuer.example.com/a?sub=abc",
		Username: "alice@example.com",
		Groups:   []string{"admins", "devs"},
		AdditionalClaims: map[string]any{
			"email":    "alice@example.com",
			"verified": true,
			"level":    float64(3),
			"nested":   map[string]any{"list": []any{"x", float64(1), nil, map[string]any{"k": "v"}}},
		},
		UpstreamUsername:  "alice",
		UpstreamGroups:    []string{"cn=admins,dc=example,dc=com"},
		UpstreamSubject:   "abc",
		UpstreamData:      []byte(`{"refresh_token":"upstream-refresh"}`),
		Code:              &sessionstore.Token{Hash: []byte{1, 2, 3}, Expires: at.Add(time.Minute), Used: true},
		AccessTokens:      []sessionstore.Token{{Hash: []byte{4, 5}, Expires: at.Add(2 * time.Minute)}, {Hash: []byte{6}, Expires: at.Add(3 * time.Minute)}},
		RefreshToken:      &sessionstore.Token{Hash: []byte{7, 8, 9}, Expires: at.Add(7 * 24 * time.Hour)},
		UsedRefreshTokens: [][]byte{{10, 11}, {12}},
		DeviceGrant: &sessionstore.DeviceGrant{Status: sessionstore.DeviceGrantApproved, CodeHash: []byte{13, 14, 15},
			Expires: at.Add(10 * time.Minute), Interval: 7*time.Second + 250*time.Millisecond, LastPoll: at.Add(time.Second)},
	}
}

// Diff compares sessions: times with Equal, nil and empty alike, ResourceVersion
// ignored.
func Diff(want, got *sessionstore.Session) string {
	return cmp.Diff(want, got, cmpopts.EquateEmpty(), cmpopts.IgnoreFields(sessionstore.Session{}, "ResourceVersion"))
}

func mustCreate(t *testing.T, store sessionstore.Store, s *sessionstore.Session) {
	t.Helper()
	if err := store.Create(t.Context(), s); err != nil {
		t.Fatalf("Create(%s): %v", s.ID, err)
	}
	if s.ResourceVersion == "" {
		t.Fatalf("Create(%s) left ResourceVersion empty", s.ID)
	}
}

func mustGet(t *testing.T, store sessionstore.Store, id string) *sessionstore.Session {
	t.Helper()
	got, err := store.Get(t.Context(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return got
}

func wantErr(t *testing.T, op string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", op, err, want)
	}
}

func testCreateGet(t *testing.T, store sessionstore.Store) {
	s := FullSession(ID("round-trip"))
	mustCreate(t, store, s)
	got := mustGet(t, store, s.ID)
	if diff := Diff(FullSession(s.ID), got); diff != "" {
		t.Errorf("Get after Create (-want +got):\n%s", diff)
	}
	if got.ResourceVersion != s.ResourceVersion {
		t.Errorf("Get ResourceVersion = %q, Create set %q", got.ResourceVersion, s.ResourceVersion)
	}
	// A minimal session (zero times, no tokens) round-trips as well.
	minimal := &sessionstore.Session{ID: ID("minimal"), Issuer: "https://issuer.example.com"}
	mustCreate(t, store, minimal)
	if diff := Diff(&sessionstore.Session{ID: minimal.ID, Issuer: minimal.Issuer}, mustGet(t, store, minimal.ID)); diff != "" {
		t.Errorf("minimal session (-want +got):\n%s", diff)
	}
}

// testNilAndEmpty checks that callers cannot tell a nil from an empty slice or map
// after a round trip: both come back the same way (whichever the store chose).
func testNilAndEmpty(t *testing.T, store sessionstore.Store) {
	nilSession := &sessionstore.Session{ID: ID("nil"), Issuer: "i"}
	empty := &sessionstore.Session{
		ID: ID("empty"), Issuer: "i",
		GrantedScopes: []string{}, Groups: []string{}, UpstreamGroups: []string{},
		AdditionalClaims: map[string]any{}, UpstreamData: []byte{},
		AccessTokens: []sessionstore.Token{}, UsedRefreshTokens: [][]byte{},
		Code: &sessionstore.Token{Hash: []byte{}}, RefreshToken: &sessionstore.Token{}, DeviceGrant: &sessionstore.DeviceGrant{CodeHash: []byte{}},
	}
	nilWithTokens := &sessionstore.Session{ID: ID("nil-tokens"), Issuer: "i", Code: &sessionstore.Token{}, RefreshToken: &sessionstore.Token{},
		DeviceGrant: &sessionstore.DeviceGrant{}}
	for _, s := range []*sessionstore.Session{nilSession, empty, nilWithTokens} {
		mustCreate(t, store, s)
	}
	ignore := cmpopts.IgnoreFields(sessionstore.Session{}, "ID", "ResourceVersion")
	if diff := cmp.Diff(mustGet(t, store, nilWithTokens.ID), mustGet(t, store, empty.ID), ignore); diff != "" {
		t.Errorf("empty and nil values read back differently (-nil +empty):\n%s", diff)
	}
	if diff := Diff(nilSession, mustGet(t, store, nilSession.ID)); diff != "" {
		t.Errorf("nil session (-want +got):\n%s", diff)
	}
}

func testCreateInvalidID(t *testing.T, store sessionstore.Store) {
	for _, id := range []string{"", "short", "../../kube-system/secret-x", strings.ToUpper(ID("x")), ID("x") + "a"} {
		err := store.Create(t.Context(), &sessionstore.Session{ID: id})
		if err == nil || errors.Is(err, sessionstore.ErrAlreadyExists) {
			t.Errorf("Create(%q) = %v, want an invalid-ID error", id, err)
		}
	}
}

func testGetMissing(t *testing.T, store sessionstore.Store) {
	_, err := store.Get(t.Context(), ID("missing"))
	wantErr(t, "Get(missing)", err, sessionstore.ErrNotFound)
	_, err = store.Get(t.Context(), "not/a valid id")
	wantErr(t, "Get(invalid ID)", err, sessionstore.ErrNotFound)
}

func testCreateDuplicate(t *testing.T, store sessionstore.Store) {
	mustCreate(t, store, FullSession(ID("dup")))
	again := FullSession(ID("dup"))
	again.Username = "mallory"
	wantErr(t, "Create(duplicate)", store.Create(t.Context(), again), sessionstore.ErrAlreadyExists)
	if got := mustGet(t, store, again.ID); got.Username != "alice@example.com" {
		t.Errorf("duplicate Create changed the session: Username = %q", got.Username)
	}
}

func testUpdate(t *testing.T, store sessionstore.Store) {
	mustCreate(t, store, FullSession(ID("update")))
	s := mustGet(t, store, ID("update"))
	stale := s.ResourceVersion

	s.Groups = append(s.Groups, "new")
	s.RefreshToken = &sessionstore.Token{Hash: []byte("next"), Expires: baseTime().Add(time.Hour)}
	s.UsedRefreshTokens = append(s.UsedRefreshTokens, []byte("old"))
	s.UpstreamData = []byte("rotated upstream data")
	if err := store.Update(t.Context(), s); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if s.ResourceVersion == stale || s.ResourceVersion == "" {
		t.Errorf("Update ResourceVersion = %q, want a new one (was %q)", s.ResourceVersion, stale)
	}
	got := mustGet(t, store, s.ID)
	if diff := Diff(s, got); diff != "" {
		t.Errorf("Get after Update (-want +got):\n%s", diff)
	}
	if got.ResourceVersion != s.ResourceVersion {
		t.Errorf("Get ResourceVersion = %q, Update set %q", got.ResourceVersion, s.ResourceVersion)
	}

	for _, rv := range []string{stale, ""} {
		conflicting := FullSession(s.ID)
		conflicting.ResourceVersion = rv
		conflicting.Username = "mallory"
		wantErr(t, fmt.Sprintf("Update(version %q)", rv), store.Update(t.Context(), conflicting), sessionstore.ErrConflict)
	}
	if diff := Diff(s, mustGet(t, store, s.ID)); diff != "" {
		t.Errorf("failed Updates changed the session (-want +got):\n%s", diff)
	}
}

func testUpdateMissing(t *testing.T, store sessionstore.Store) {
	s := FullSession(ID("update-missing"))
	s.ResourceVersion = "1"
	wantErr(t, "Update(missing)", store.Update(t.Context(), s), sessionstore.ErrNotFound)
	s.ResourceVersion = ""
	wantErr(t, "Update(missing, no version)", store.Update(t.Context(), s), sessionstore.ErrNotFound)
	if _, err := store.Get(t.Context(), s.ID); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Errorf("Update of a missing session created it: Get = %v", err)
	}
}

func testDelete(t *testing.T, store sessionstore.Store) {
	s := FullSession(ID("delete"))
	mustCreate(t, store, s)
	stale := s.ResourceVersion
	s.Groups = []string{"changed"}
	if err := store.Update(t.Context(), s); err != nil {
		t.Fatalf("Update: %v", err)
	}
	wantErr(t, "Delete(stale version)", store.Delete(t.Context(), s.ID, stale), sessionstore.ErrConflict)
	mustGet(t, store, s.ID)
	if err := store.Delete(t.Context(), s.ID, s.ResourceVersion); err != nil {
		t.Fatalf("Delete(current version): %v", err)
	}
	_, err := store.Get(t.Context(), s.ID)
	wantErr(t, "Get after Delete", err, sessionstore.ErrNotFound)

	unconditional := FullSession(ID("delete-unconditional"))
	mustCreate(t, store, unconditional)
	if err := store.Delete(t.Context(), unconditional.ID, ""); err != nil {
		t.Fatalf("Delete(no version): %v", err)
	}
	_, err = store.Get(t.Context(), unconditional.ID)
	wantErr(t, "Get after unconditional Delete", err, sessionstore.ErrNotFound)
}

func testDeleteMissing(t *testing.T, store sessionstore.Store) {
	wantErr(t, "Delete(missing)", store.Delete(t.Context(), ID("missing"), ""), sessionstore.ErrNotFound)
	wantErr(t, "Delete(missing, version)", store.Delete(t.Context(), ID("missing"), "7"), sessionstore.ErrNotFound)
}

// testDeviceGrant follows a device login: a pending grant without an identity, then
// approved with one, then collected (the grant removed); every step reads back as
// written.
func testDeviceGrant(t *testing.T, store sessionstore.Store) {
	at := baseTime()
	pending := &sessionstore.Session{
		ID: ID("device"), Issuer: "https://issuer.example.com/a", ClientID: "pinniped-cli",
		GrantedScopes: []string{"openid"}, Expires: at.Add(20 * time.Minute),
		IdP: sessionstore.IdP{DisplayName: "Corporate OIDC", Type: "oidc"},
		DeviceGrant: &sessionstore.DeviceGrant{Status: sessionstore.DeviceGrantPending, CodeHash: []byte("hash"),
			Expires: at.Add(10 * time.Minute), Interval: 5 * time.Second},
	}
	mustCreate(t, store, pending)
	got := mustGet(t, store, pending.ID)
	if diff := Diff(pending, got); diff != "" {
		t.Fatalf("pending grant (-want +got):\n%s", diff)
	}
	got.DeviceGrant.LastPoll = at.Add(6 * time.Second)
	got.DeviceGrant.Interval += 5 * time.Second
	got.DeviceGrant.Status = sessionstore.DeviceGrantApproved
	got.Username, got.Groups, got.AuthTime = "alice", []string{"devs"}, at.Add(time.Minute)
	if err := store.Update(t.Context(), got); err != nil {
		t.Fatalf("Update(approved): %v", err)
	}
	approved := mustGet(t, store, pending.ID)
	if diff := Diff(got, approved); diff != "" {
		t.Fatalf("approved grant (-want +got):\n%s", diff)
	}
	approved.DeviceGrant = nil
	if err := store.Update(t.Context(), approved); err != nil {
		t.Fatalf("Update(collected): %v", err)
	}
	if g := mustGet(t, store, pending.ID).DeviceGrant; g != nil {
		t.Errorf("collected grant still stored: %+v", g)
	}
}
