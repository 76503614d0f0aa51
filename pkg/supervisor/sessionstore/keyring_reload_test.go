// SPDX-License-Identifier: Apache-2.0

package sessionstore_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
)

func TestKeyringReloadPicksUpRotation(t *testing.T) {
	t.Parallel()
	secrets := newStrictClientset().CoreV1().Secrets(testNamespace)
	replica, err := sessionstore.LoadKeyring(t.Context(), secrets, keyringName, nil)
	if err != nil {
		t.Fatal(err)
	}
	old := replica.ActiveKeyID()
	sealedOld := mustSeal(t, replica, "old")
	rotated, err := sessionstore.RotateKeyring(t.Context(), secrets, keyringName, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Before any reload, data sealed by the rotating replica opens (reload on miss).
	if !canOpen(replica, mustSeal(t, rotated, "new")) {
		t.Error("replica cannot open data sealed with the new key")
	}
	if err := replica.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if replica.ActiveKeyID() != rotated.ActiveKeyID() || replica.ActiveKeyID() == old {
		t.Errorf("after Reload the replica seals with %s, want %s", replica.ActiveKeyID(), rotated.ActiveKeyID())
	}
	if !canOpen(replica, sealedOld) || !canOpen(rotated, mustSeal(t, replica, "again")) {
		t.Error("old data or the replica's new data does not open")
	}
}

func TestKeyringRunReload(t *testing.T) {
	t.Parallel()
	secrets := newStrictClientset().CoreV1().Secrets(testNamespace)
	replica, err := sessionstore.LoadKeyring(t.Context(), secrets, keyringName, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		replica.RunReload(ctx, 5*time.Millisecond, nil)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	rotated, err := sessionstore.RotateKeyring(t.Context(), secrets, keyringName, nil)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for replica.ActiveKeyID() != rotated.ActiveKeyID() {
		if time.Now().After(deadline) {
			t.Fatal("RunReload did not pick up the rotation")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestKeyringReloadKeepsKeysInUse replaces the Secret under a running replica: keys
// that sealed live data keep opening it until KeyRetention has passed.
func TestKeyringReloadKeepsKeysInUse(t *testing.T) {
	t.Parallel()
	secrets := newStrictClientset().CoreV1().Secrets(testNamespace)
	clock := newFakeClock()
	replica, err := sessionstore.LoadKeyring(t.Context(), secrets, keyringName, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	sealed := mustSeal(t, replica, "live session")
	if err := secrets.Delete(t.Context(), keyringName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	other, err := sessionstore.LoadKeyring(t.Context(), secrets, keyringName, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := replica.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if replica.ActiveKeyID() != other.ActiveKeyID() || !canOpen(replica, sealed) {
		t.Errorf("after the secret was replaced: active %s (want %s), opens live data: %v",
			replica.ActiveKeyID(), other.ActiveKeyID(), canOpen(replica, sealed))
	}
	clock.Advance(sessionstore.KeyRetention)
	if err := replica.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if canOpen(replica, sealed) {
		t.Error("a key missing from the secret was kept beyond KeyRetention")
	}
}

// TestKeyringRotateAnnotation checks that a new annotation value rotates exactly once,
// however many replicas reload, and that sealed data keeps opening.
func TestKeyringRotateAnnotation(t *testing.T) {
	t.Parallel()
	secrets := newStrictClientset().CoreV1().Secrets(testNamespace)
	a, err := sessionstore.LoadKeyring(t.Context(), secrets, keyringName, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sessionstore.LoadKeyring(t.Context(), secrets, keyringName, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := a.ActiveKeyID()
	sealed := mustSeal(t, a, "before")
	annotate := func(value string) {
		t.Helper()
		s, err := secrets.Get(t.Context(), keyringName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[sessionstore.RotateAnnotation] = value
		if _, err := secrets.Update(t.Context(), s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	reloadBoth := func() {
		t.Helper()
		for _, k := range []*sessionstore.Keyring{a, b, a, b} {
			if err := k.Reload(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}

	reloadBoth() // no annotation: nothing changes
	if a.ActiveKeyID() != first || b.ActiveKeyID() != first {
		t.Fatalf("rotated without being asked: %s, %s, want %s", a.ActiveKeyID(), b.ActiveKeyID(), first)
	}
	annotate("2026-11-30T10:00:00Z")
	reloadBoth()
	second := a.ActiveKeyID()
	if second == first || b.ActiveKeyID() != second {
		t.Fatalf("after the annotation: a seals with %s, b with %s; first key %s", second, b.ActiveKeyID(), first)
	}
	reloadBoth() // the same value again: no second rotation
	if a.ActiveKeyID() != second || b.ActiveKeyID() != second {
		t.Fatalf("rotated twice for one annotation value: %s, %s", a.ActiveKeyID(), b.ActiveKeyID())
	}
	annotate("2026-11-30T11:00:00Z")
	reloadBoth()
	if third := b.ActiveKeyID(); third == second || third == first || a.ActiveKeyID() != third {
		t.Fatalf("a new value did not rotate once more: %s, %s", a.ActiveKeyID(), third)
	}
	if !canOpen(a, sealed) || !canOpen(b, sealed) {
		t.Error("data sealed before the rotations does not open")
	}
}
