// SPDX-License-Identifier: Apache-2.0

package sessionstore_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore/conformance"
)

// editJSON changes the stored session JSON of secret.
func editJSON(t *testing.T, secret *corev1.Secret, edit func(m map[string]any)) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(secret.Data["session"], &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	secret.Data["session"] = raw
}

type unreadableCase struct {
	name    string
	mutate  func(t *testing.T, bad, good *corev1.Secret)
	wantErr string
}

func unreadableCases() []unreadableCase {
	return []unreadableCase{
		{"unknown version", func(_ *testing.T, bad, _ *corev1.Secret) { bad.Data["version"] = []byte("2") }, `unsupported format version "2"`},
		{"no version", func(_ *testing.T, bad, _ *corev1.Secret) { delete(bad.Data, "version") }, `unsupported format version ""`},
		{"corrupt JSON", func(_ *testing.T, bad, _ *corev1.Secret) { bad.Data["session"] = []byte(`{"id":`) }, "decode session"},
		{"no session data", func(_ *testing.T, bad, _ *corev1.Secret) { delete(bad.Data, "session") }, "decode session"},
		{"wrong type", func(_ *testing.T, bad, _ *corev1.Secret) { bad.Type = corev1.SecretTypeOpaque }, "type is"},
		{"ID does not match name", func(t *testing.T, bad, good *corev1.Secret) {
			editJSON(t, bad, func(m map[string]any) { m["id"] = strings.TrimPrefix(good.Name, "selkie-session-") })
		}, "does not match the name"},
		{"sealed data of another session", func(t *testing.T, bad, good *corev1.Secret) {
			var other map[string]any
			if err := json.Unmarshal(good.Data["session"], &other); err != nil {
				t.Fatal(err)
			}
			editJSON(t, bad, func(m map[string]any) { m["sealedUpstreamData"] = other["sealedUpstreamData"] })
		}, "cannot open sealed data"},
		{"sealed data tampered", func(t *testing.T, bad, _ *corev1.Secret) {
			editJSON(t, bad, func(m map[string]any) {
				sealed, err := base64.StdEncoding.DecodeString(m["sealedUpstreamData"].(string))
				if err != nil {
					t.Fatal(err)
				}
				sealed[len(sealed)-1] ^= 0x01 // in the GCM tag
				m["sealedUpstreamData"] = base64.StdEncoding.EncodeToString(sealed)
			})
		}, "cannot open sealed data"},
	}
}

func TestSecretStoreUnreadableSecrets(t *testing.T) {
	t.Parallel()
	for _, tt := range unreadableCases() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runUnreadableCase(t, tt)
		})
	}
}

// runUnreadableCase stores a bad and a good session, breaks the bad one's Secret, and
// checks that Get reports it as corrupt and List skips it.
func runUnreadableCase(t *testing.T, tt unreadableCase) {
	t.Helper()
	f := newSecretFixture(t)
	bad := conformance.FullSession(conformance.ID("bad"))
	good := conformance.FullSession(conformance.ID("good"))
	for _, s := range []*sessionstore.Session{bad, good} {
		s.Expires = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)
		if err := f.store.Create(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	badSecret := f.secret(t, bad.ID)
	tt.mutate(t, badSecret, f.secret(t, good.ID))
	f.put(t, badSecret)

	_, err := f.store.Get(t.Context(), bad.ID)
	if !errors.Is(err, sessionstore.ErrCorrupt) || errors.Is(err, sessionstore.ErrNotFound) || !strings.Contains(err.Error(), tt.wantErr) {
		t.Errorf("Get = %v, want ErrCorrupt (not ErrNotFound) mentioning %q", err, tt.wantErr)
	}
	for _, opts := range []sessionstore.ListOptions{{}, {ExpiredBefore: time.Date(2026, time.January, 2, 0, 0, 0, 0, time.UTC)}, {Issuer: good.Issuer}} {
		listed, err := f.store.List(t.Context(), opts)
		if err != nil {
			t.Fatalf("List(%+v) failed on one bad secret: %v", opts, err)
		}
		if len(listed) != 1 || listed[0].ID != good.ID {
			t.Errorf("List(%+v) = %d sessions, want only the good one", opts, len(listed))
		}
	}
	if logs := f.logs.String(); !strings.Contains(logs, badSecret.Name) || !strings.Contains(logs, "skipping") {
		t.Errorf("the skipped secret was not logged:\n%s", logs)
	}
	// A corrupt session can still be deleted.
	if err := f.store.Delete(t.Context(), bad.ID, ""); err != nil {
		t.Errorf("Delete(corrupt) = %v", err)
	}
}

// TestSecretStoreListIndexMismatch edits the labels and the annotation, which List
// selects on: the stored session has the last word, and nothing unreadable is returned.
func TestSecretStoreListIndexMismatch(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, time.August, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		mutate func(s *corev1.Secret)
		opts   sessionstore.ListOptions
	}{
		{"unparsable expires", func(s *corev1.Secret) { s.Annotations["storage.selkie.dev/expires"] = "yesterday" }, sessionstore.ListOptions{ExpiredBefore: now}},
		{"expires annotation says expired", func(s *corev1.Secret) {
			s.Annotations["storage.selkie.dev/expires"] = now.Add(-time.Hour).Format(time.RFC3339Nano)
		}, sessionstore.ListOptions{ExpiredBefore: now}},
		{"issuer label of another issuer", func(s *corev1.Secret) { s.Labels["storage.selkie.dev/issuer"] = hash32("https://other") }, sessionstore.ListOptions{Issuer: "https://other"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newSecretFixture(t)
			s := conformance.FullSession(conformance.ID("index"))
			s.Expires = now.Add(time.Hour)
			if err := f.store.Create(t.Context(), s); err != nil {
				t.Fatal(err)
			}
			secret := f.secret(t, s.ID)
			tt.mutate(secret)
			f.put(t, secret)
			listed, err := f.store.List(t.Context(), tt.opts)
			if err != nil || len(listed) != 0 {
				t.Errorf("List(%+v) = %d sessions, %v; want none", tt.opts, len(listed), err)
			}
			if !strings.Contains(f.logs.String(), secret.Name) {
				t.Errorf("the mismatch was not logged:\n%s", f.logs.String())
			}
			// Without the filter the session is listed as stored.
			all, err := f.store.List(t.Context(), sessionstore.ListOptions{})
			if err != nil || len(all) != 1 {
				t.Fatalf("List() = %d sessions, %v", len(all), err)
			}
			if diff := cmp.Diff(s.Expires, all[0].Expires); diff != "" {
				t.Errorf("Expires (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGCCollectsUnreadableSecrets loses the keyring: sessions sealed with the old keys
// can never be read again, and the collector must still delete them once they expire
// (by the expires annotation), or, without a readable annotation, once they are older
// than any session can live.
func TestGCCollectsUnreadableSecrets(t *testing.T) {
	t.Parallel()
	f := newSecretFixture(t)
	now := time.Date(2026, time.August, 1, 0, 0, 0, 0, time.UTC)
	create := func(name string, expires time.Time) *sessionstore.Session {
		s := conformance.FullSession(conformance.ID(name))
		s.Expires = expires
		if err := f.store.Create(t.Context(), s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	expired := create("expired", now.Add(-time.Hour))
	live := create("live", now.Add(time.Hour))
	oldUnknown := create("old-unknown-expiry", now.Add(time.Hour))
	newUnknown := create("new-unknown-expiry", now.Add(time.Hour))
	for _, tt := range []struct {
		s       *sessionstore.Session
		created time.Time
	}{{oldUnknown, now.Add(-sessionstore.UnreadableMaxAge - time.Hour)}, {newUnknown, now.Add(-time.Hour)}} {
		secret := f.secret(t, tt.s.ID)
		secret.Annotations["storage.selkie.dev/expires"] = "garbage"
		secret.CreationTimestamp = metav1.NewTime(tt.created)
		f.put(t, secret)
	}

	// The keyring is lost: a new one in another Secret opens none of the sessions.
	keyring, err := sessionstore.LoadKeyring(t.Context(), f.secrets, "selkie-session-keys-new", nil)
	if err != nil {
		t.Fatal(err)
	}
	store := sessionstore.NewSecretStore(f.secrets, keyring, sessionstore.WithLogger(slog.New(slog.NewTextHandler(f.logs, nil))))
	if _, err := store.Get(t.Context(), live.ID); !errors.Is(err, sessionstore.ErrCorrupt) {
		t.Fatalf("Get with the new keyring = %v, want ErrCorrupt", err)
	}
	counted := -1
	gc := &sessionstore.GC{Store: store, Clock: func() time.Time { return now }, Log: slog.New(slog.NewTextHandler(f.logs, nil)),
		Sessions: func(n int) { counted = n }}
	deleted, err := gc.Once(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if deleted != 2 {
		t.Errorf("deleted %d, want 2", deleted)
	}
	if counted != 2 { // live and new-unknown-expiry; the keyrings' Secrets are not sessions
		t.Errorf("the round counted %d sessions, want the 2 left", counted)
	}
	for _, tt := range []struct {
		s        *sessionstore.Session
		wantGone bool
	}{{expired, true}, {live, false}, {oldUnknown, true}, {newUnknown, false}} {
		_, err := f.secrets.Get(t.Context(), "selkie-session-"+tt.s.ID, metav1.GetOptions{})
		if gone := apierrors.IsNotFound(err); gone != tt.wantGone {
			t.Errorf("session %s: deleted %t, want %t (%v)", tt.s.ID, gone, tt.wantGone, err)
		}
	}
	if !strings.Contains(f.logs.String(), "deleted unreadable expired session") {
		t.Errorf("the deletions were not logged:\n%s", f.logs.String())
	}
}
