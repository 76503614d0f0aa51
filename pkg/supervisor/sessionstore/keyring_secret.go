// SPDX-License-Identifier: Apache-2.0

package sessionstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KeyringSecretType is the type of the Secret that holds the session encryption keys.
//
// Its data holds one entry per key, "key-<id>" with the 32 raw key bytes, and
// "keyring.json", which says which key is active and when each key was created and
// retired (stopped being active):
//
//	{"version":1,"active":"9f86d081","keys":[
//	  {"id":"2c26b46b","created":"2026-08-01T10:00:00Z","retired":"2026-08-20T10:00:00Z"},
//	  {"id":"9f86d081","created":"2026-08-20T10:00:00Z"}]}
const KeyringSecretType corev1.SecretType = "secrets.selkie.dev/session-encryption"

// RotateAnnotation on the keyring Secret asks for a rotation: set it to a new value (a
// timestamp, say) and the next Reload on any replica rotates once for that value,
// which keyring.json records as "rotatedFor". It is the signing keys' annotation.
const RotateAnnotation = "keys.selkie.dev/rotate"

// KeyRetention is how long a key is kept after it stopped being active. Sessions live
// at most 7 days and a key seals only while active (or, on a replica that has not
// reloaded yet, for one reload interval longer), so after 8 days no live session
// needs it; the extra day covers clock skew between replicas, slow reloads and the
// garbage collector's lag.
const KeyRetention = 8 * 24 * time.Hour

const (
	keyringDataKey     = "keyring.json"
	keyDataPrefix      = "key-"
	keyringFormatV1    = 1
	keyIDPatternString = `^[a-z0-9]{1,32}$`
)

// errMalformedKeyring marks a keyring Secret that cannot be used; nothing is written
// over it, an operator has to look.
var errMalformedKeyring = errors.New("malformed keyring secret")

type keyringJSON struct {
	Version int           `json:"version"`
	Active  string        `json:"active"`
	Keys    []keyMetaJSON `json:"keys"`
	// RotatedFor is the RotateAnnotation value the last requested rotation was for.
	RotatedFor string `json:"rotatedFor,omitempty"`
}

type keyMetaJSON struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Retired time.Time `json:"retired,omitzero"`
}

// parseKeyringSecret validates the whole Secret before using any of it.
func parseKeyringSecret(secret *corev1.Secret) (*keyringState, error) {
	st, err := parseKeyringData(secret)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", errMalformedKeyring, secret.Name, err)
	}
	return st, nil
}

func parseKeyringData(secret *corev1.Secret) (*keyringState, error) {
	if secret.Type != KeyringSecretType {
		return nil, fmt.Errorf("type is %q, want %q", secret.Type, KeyringSecretType)
	}
	raw, ok := secret.Data[keyringDataKey]
	if !ok {
		return nil, fmt.Errorf("no %s", keyringDataKey)
	}
	var meta keyringJSON
	if err := json.Unmarshal(raw, &meta); err != nil {
		return nil, fmt.Errorf("decode %s: %w", keyringDataKey, err)
	}
	if meta.Version != keyringFormatV1 {
		return nil, fmt.Errorf("unsupported %s version %d", keyringDataKey, meta.Version)
	}
	idPattern := regexp.MustCompile(keyIDPatternString)
	st := &keyringState{active: meta.Active, keys: make(map[string]*keyEntry, len(meta.Keys)), rotatedFor: meta.RotatedFor}
	for _, km := range meta.Keys {
		if !idPattern.MatchString(km.ID) {
			return nil, fmt.Errorf("invalid key ID %q", km.ID)
		}
		if _, dup := st.keys[km.ID]; dup {
			return nil, fmt.Errorf("key %s listed twice", km.ID)
		}
		secretBytes, ok := secret.Data[keyDataPrefix+km.ID]
		if !ok {
			return nil, fmt.Errorf("key %s listed but no %s%s", km.ID, keyDataPrefix, km.ID)
		}
		e, err := newKeyEntry(km.ID, slices.Clone(secretBytes), km.Created, km.Retired)
		if err != nil {
			return nil, err
		}
		st.keys[km.ID] = e
	}
	for name := range secret.Data {
		if id, ok := strings.CutPrefix(name, keyDataPrefix); ok && st.keys[id] == nil {
			return nil, fmt.Errorf("%s is not listed in %s", name, keyringDataKey)
		}
	}
	active, ok := st.keys[meta.Active]
	switch {
	case meta.Active == "":
		return nil, errors.New("no active key")
	case !ok:
		return nil, fmt.Errorf("active key %q is not in the ring", meta.Active)
	case !active.retired.IsZero():
		return nil, fmt.Errorf("active key %s is marked retired", meta.Active)
	}
	// Without a retirement time a key would never be dropped.
	for id, e := range st.keys {
		if id != meta.Active && e.retired.IsZero() {
			return nil, fmt.Errorf("key %s is neither active nor retired", id)
		}
	}
	return st, nil
}

// keyringData encodes st as Secret data, keys ordered by creation.
func keyringData(st *keyringState) (map[string][]byte, error) {
	entries := slices.SortedFunc(maps.Values(st.keys), func(a, b *keyEntry) int {
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	meta := keyringJSON{Version: keyringFormatV1, Active: st.active, RotatedFor: st.rotatedFor}
	data := make(map[string][]byte, len(entries)+1)
	for _, e := range entries {
		meta.Keys = append(meta.Keys, keyMetaJSON{ID: e.id, Created: e.created.UTC(), Retired: e.retired.UTC()})
		data[keyDataPrefix+e.id] = slices.Clone(e.secret)
	}
	raw, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", keyringDataKey, err)
	}
	data[keyringDataKey] = raw
	return data, nil
}

func newKeyringSecret(name string, st *keyringState) (*corev1.Secret, error) {
	data, err := keyringData(st)
	if err != nil {
		return nil, err
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Type:       KeyringSecretType,
		Data:       data,
	}, nil
}

// rotated returns a copy of st with a new active key: the old active key is retired
// at now, and keys retired KeyRetention or longer ago are dropped.
func (st *keyringState) rotated(rand io.Reader, now time.Time) (*keyringState, error) {
	next := &keyringState{keys: make(map[string]*keyEntry, len(st.keys)+1), rotatedFor: st.rotatedFor}
	for id, e := range st.keys {
		if id == st.active {
			retired := *e
			retired.retired = now
			e = &retired
		}
		if !e.retired.IsZero() && now.Sub(e.retired) >= KeyRetention {
			continue
		}
		next.keys[id] = e
	}
	fresh, err := generateKey(rand, now, st.keys)
	if err != nil {
		return nil, err
	}
	next.keys[fresh.id] = fresh
	next.active = fresh.id
	return next, nil
}

// merged returns the freshly read state, plus the keys of the current one that the
// Secret no longer has but that may still have sealed live data: those retired less
// than KeyRetention ago (by this replica's view), or active here until now. They can
// only open, never seal. This keeps sessions readable if the Secret is replaced under
// a running replica.
func (st *keyringState) merged(fresh *keyringState, now time.Time) *keyringState {
	out := &keyringState{active: fresh.active, keys: maps.Clone(fresh.keys), rotatedFor: fresh.rotatedFor}
	for id, e := range st.keys {
		if _, ok := out.keys[id]; ok {
			continue
		}
		if e.retired.IsZero() {
			retired := *e
			retired.retired = now
			e = &retired
		}
		if now.Sub(e.retired) < KeyRetention {
			out.keys[id] = e
		}
	}
	return out
}

func newKeyringState(rand io.Reader, now time.Time) (*keyringState, error) {
	first, err := generateKey(rand, now, nil)
	if err != nil {
		return nil, err
	}
	return &keyringState{active: first.id, keys: map[string]*keyEntry{first.id: first}}, nil
}
