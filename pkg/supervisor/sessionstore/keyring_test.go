// SPDX-License-Identifier: Apache-2.0

package sessionstore_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	clienttesting "k8s.io/client-go/testing"

	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
)

const keyringName = "selkie-session-keys"

type keyringMeta struct {
	Version int    `json:"version"`
	Active  string `json:"active"`
	Keys    []struct {
		ID      string    `json:"id"`
		Created time.Time `json:"created"`
		Retired time.Time `json:"retired"`
	} `json:"keys"`
}

func readKeyringSecret(t *testing.T, secrets corev1client.SecretInterface) (*corev1.Secret, keyringMeta) {
	t.Helper()
	secret, err := secrets.Get(t.Context(), keyringName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get keyring secret: %v", err)
	}
	var meta keyringMeta
	if err := json.Unmarshal(secret.Data["keyring.json"], &meta); err != nil {
		t.Fatalf("keyring.json: %v", err)
	}
	return secret, meta
}

func keyIDs(meta keyringMeta) []string {
	var ids []string
	for _, k := range meta.Keys {
		ids = append(ids, k.ID)
	}
	slices.Sort(ids)
	return ids
}

func mustSeal(t *testing.T, k *sessionstore.Keyring, plaintext string) []byte {
	t.Helper()
	sealed, err := k.Seal([]byte(plaintext), []byte("ad"))
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return sealed
}

func canOpen(k *sessionstore.Keyring, sealed []byte) bool {
	_, err := k.Open(sealed, []byte("ad"))
	return err == nil
}

func TestLoadKeyringCreatesAndReuses(t *testing.T) {
	t.Parallel()
	secrets := newStrictClientset().CoreV1().Secrets(testNamespace)
	clock := newFakeClock()
	first, err := sessionstore.LoadKeyring(t.Context(), secrets, keyringName, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	secret, meta := readKeyringSecret(t, secrets)
	if secret.Type != sessionstore.KeyringSecretType {
		t.Errorf("type = %q", secret.Type)
	}
	if meta.Version != 1 || meta.Active != first.ActiveKeyID() || len(meta.Keys) != 1 || !meta.Keys[0].Created.Equal(clock.Now()) {
		t.Errorf("keyring.json = %+v, want one active key %s created now", meta, first.ActiveKeyID())
	}
	if key := secret.Data["key-"+first.ActiveKeyID()]; len(key) != 32 {
		t.Errorf("key-%s has %d bytes", first.ActiveKeyID(), len(key))
	}

	second, err := sessionstore.LoadKeyring(t.Context(), secrets, keyringName, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	if second.ActiveKeyID() != first.ActiveKeyID() || !canOpen(second, mustSeal(t, first, "x")) {
		t.Error("a second LoadKeyring does not share the first one's key")
	}
	if again, _ := readKeyringSecret(t, secrets); again.ResourceVersion != secret.ResourceVersion {
		t.Error("loading an existing keyring wrote the secret")
	}
}

// TestLoadKeyringCreateRace makes the Get miss a Secret that another replica then
// creates first: LoadKeyring must adopt that replica's keyring.
func TestLoadKeyringCreateRace(t *testing.T) {
	t.Parallel()
	cs := newStrictClientset()
	secrets := cs.CoreV1().Secrets(testNamespace)
	winner, err := sessionstore.LoadKeyring(t.Context(), secrets, keyringName, nil)
	if err != nil {
		t.Fatal(err)
	}
	missedOnce := false
	cs.PrependReactor("get", "secrets", func(clienttesting.Action) (bool, runtime.Object, error) {
		if missedOnce {
			return false, nil, nil
		}
		missedOnce = true
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, keyringName)
	})
	loser, err := sessionstore.LoadKeyring(t.Context(), secrets, keyringName, nil)
	if err != nil {
		t.Fatalf("LoadKeyring after losing the create race: %v", err)
	}
	if !missedOnce || loser.ActiveKeyID() != winner.ActiveKeyID() {
		t.Errorf("loser active key %s, winner %s (race simulated: %v)", loser.ActiveKeyID(), winner.ActiveKeyID(), missedOnce)
	}
}

func TestRotateKeyringRetention(t *testing.T) {
	t.Parallel()
	secrets := newStrictClientset().CoreV1().Secrets(testNamespace)
	clock := newFakeClock()
	k, err := sessionstore.LoadKeyring(t.Context(), secrets, keyringName, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	a := k.ActiveKeyID()
	sealedA := mustSeal(t, k, "sealed with a")
	rotate := func() *sessionstore.Keyring {
		t.Helper()
		r, err := sessionstore.RotateKeyring(t.Context(), secrets, keyringName, clock.Now)
		if err != nil {
			t.Fatalf("RotateKeyring: %v", err)
		}
		_, meta := readKeyringSecret(t, secrets)
		if meta.Active != r.ActiveKeyID() {
			t.Fatalf("secret active %s, rotated ring %s", meta.Active, r.ActiveKeyID())
		}
		return r
	}

	clock.Advance(24 * time.Hour)
	b := rotate()
	if b.ActiveKeyID() == a || !canOpen(b, sealedA) {
		t.Fatalf("after the first rotation: active %s (was %s), opens old data: %v", b.ActiveKeyID(), a, canOpen(b, sealedA))
	}
	_, meta := readKeyringSecret(t, secrets)
	if want := []string{a, b.ActiveKeyID()}; !cmp.Equal(keyIDs(meta), sortedStrings(want...)) {
		t.Errorf("keys = %v, want %v", keyIDs(meta), want)
	}
	for _, km := range meta.Keys {
		if km.ID == a && !km.Retired.Equal(clock.Now()) {
			t.Errorf("key %s retired %v, want now", a, km.Retired)
		}
	}

	clock.Advance(sessionstore.KeyRetention - time.Second)
	c := rotate()
	if !canOpen(c, sealedA) {
		t.Error("key a dropped before KeyRetention had passed since it was retired")
	}

	clock.Advance(time.Second)
	d := rotate()
	if canOpen(d, sealedA) {
		t.Error("key a kept KeyRetention after it was retired")
	}
	_, meta = readKeyringSecret(t, secrets)
	if want := sortedStrings(b.ActiveKeyID(), c.ActiveKeyID(), d.ActiveKeyID()); !cmp.Equal(keyIDs(meta), want) {
		t.Errorf("keys = %v, want %v", keyIDs(meta), want)
	}
	if secret, _ := readKeyringSecret(t, secrets); secret.Data["key-"+a] != nil {
		t.Errorf("key-%s still in the secret", a)
	}
}

func sortedStrings(s ...string) []string {
	return slices.Sorted(slices.Values(s))
}

func TestRotateKeyringRetriesOnConflict(t *testing.T) {
	t.Parallel()
	cs := newStrictClientset()
	secrets := cs.CoreV1().Secrets(testNamespace)
	first, err := sessionstore.LoadKeyring(t.Context(), secrets, keyringName, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The first write conflicts: another replica rotated in between.
	conflicts := 0
	cs.PrependReactor("update", "secrets", func(clienttesting.Action) (bool, runtime.Object, error) {
		if conflicts > 0 {
			return false, nil, nil
		}
		conflicts++
		return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "secrets"}, keyringName, errors.New("modified"))
	})
	rotated, err := sessionstore.RotateKeyring(t.Context(), secrets, keyringName, nil)
	if err != nil {
		t.Fatalf("RotateKeyring: %v", err)
	}
	if conflicts != 1 || rotated.ActiveKeyID() == first.ActiveKeyID() {
		t.Errorf("conflicts %d, active %s (was %s)", conflicts, rotated.ActiveKeyID(), first.ActiveKeyID())
	}
}

func TestRotateKeyringCreatesMissing(t *testing.T) {
	t.Parallel()
	secrets := newStrictClientset().CoreV1().Secrets(testNamespace)
	k, err := sessionstore.RotateKeyring(t.Context(), secrets, keyringName, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, meta := readKeyringSecret(t, secrets); meta.Active != k.ActiveKeyID() {
		t.Errorf("secret active %s, ring %s", meta.Active, k.ActiveKeyID())
	}
}
