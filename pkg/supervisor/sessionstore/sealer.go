// SPDX-License-Identifier: Apache-2.0

package sessionstore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// Sealer encrypts and authenticates small values (the upstream IdP's tokens) for
// storage. Open accepts only what Seal produced with the same additional data.
type Sealer interface {
	// Seal encrypts plaintext and authenticates it together with additionalData,
	// which is not stored: Open needs it again.
	Seal(plaintext, additionalData []byte) ([]byte, error)
	// Open returns the plaintext of sealed, or an error if sealed was not produced by
	// Seal with the same additionalData (or was altered since).
	Open(sealed, additionalData []byte) ([]byte, error)
}

// ErrCannotOpen is returned (wrapped, with the reason) by Keyring.Open for input that
// is truncated, tampered with, sealed under other additional data, or sealed with a
// key the keyring does not hold.
var ErrCannotOpen = errors.New("cannot open sealed data")

// Sealed format, version 1:
//
//	byte 0            format version (1)
//	byte 1            n, the length of the key ID
//	bytes 2..2+n      the key ID (ASCII)
//	next 12 bytes     the random GCM nonce
//	the rest          AES-256-GCM ciphertext and 16-byte tag
//
// The GCM additional data is the header (bytes 0..2+n) followed by the caller's
// additional data, so neither the version nor the key ID can be altered unnoticed.
const (
	sealVersion = 1
	keySize     = 32 // AES-256
	nonceSize   = 12
	tagSize     = 16
	keyIDBytes  = 4 // key IDs are 8 hex characters
)

// Reload after an unknown key ID (a rotation by another replica not yet seen here):
// at most once per missReloadInterval, each bounded by missReloadTimeout.
const (
	missReloadInterval = 10 * time.Second
	missReloadTimeout  = 5 * time.Second
)

// keyEntry is one key of the ring. Entries are never modified once shared.
type keyEntry struct {
	id     string
	secret []byte
	aead   cipher.AEAD
	// created is when the key was generated; retired when another key replaced it
	// as the active one (zero while active).
	created time.Time
	retired time.Time
}

// keyringState is an immutable snapshot of the ring.
type keyringState struct {
	active string
	keys   map[string]*keyEntry
	// rotatedFor is the RotateAnnotation value the last requested rotation was for.
	rotatedFor string
}

// Keyring is a Sealer over several AES-256-GCM keys kept in a Kubernetes Secret: the
// active key seals, every key it holds opens. Random 96-bit nonces are safe because a
// key seals far fewer than 2^32 values before it is rotated. Make one with LoadKeyring
// or RotateKeyring (the zero value holds no key and refuses to seal or open). It is
// safe for concurrent use.
type Keyring struct {
	secrets corev1client.SecretInterface
	name    string
	clock   func() time.Time
	rand    io.Reader

	state atomic.Pointer[keyringState]
	// reloadMu serialises Reload; missMu and lastMiss rate-limit reloads on unknown
	// key IDs.
	reloadMu sync.Mutex
	missMu   sync.Mutex
	lastMiss time.Time
}

var _ Sealer = (*Keyring)(nil)

func newKeyEntry(id string, secret []byte, created, retired time.Time) (*keyEntry, error) {
	if len(secret) != keySize {
		return nil, fmt.Errorf("key %s: want %d bytes, got %d", id, keySize, len(secret))
	}
	block, err := aes.NewCipher(secret)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", id, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", id, err)
	}
	return &keyEntry{id: id, secret: secret, aead: aead, created: created, retired: retired}, nil
}

// generateKey returns a new random key whose ID is not in taken.
func generateKey(rand io.Reader, now time.Time, taken map[string]*keyEntry) (*keyEntry, error) {
	secret := make([]byte, keySize)
	if _, err := io.ReadFull(rand, secret); err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	for {
		raw := make([]byte, keyIDBytes)
		if _, err := io.ReadFull(rand, raw); err != nil {
			return nil, fmt.Errorf("generate key ID: %w", err)
		}
		id := hex.EncodeToString(raw)
		if _, ok := taken[id]; !ok {
			return newKeyEntry(id, secret, now, time.Time{})
		}
	}
}

// current returns the ring's keys; empty for a zero Keyring.
func (k *Keyring) current() *keyringState {
	if st := k.state.Load(); st != nil {
		return st
	}
	return &keyringState{}
}

// ActiveKeyID returns the ID of the key that seals.
func (k *Keyring) ActiveKeyID() string {
	return k.current().active
}

// Seal encrypts plaintext with the active key, authenticating additionalData.
func (k *Keyring) Seal(plaintext, additionalData []byte) ([]byte, error) {
	st := k.current()
	key := st.keys[st.active]
	if key == nil {
		return nil, fmt.Errorf("seal: keyring has no active key %q", st.active)
	}
	headerLen := 2 + len(key.id)
	out := make([]byte, headerLen+nonceSize, headerLen+nonceSize+len(plaintext)+tagSize)
	out[0] = sealVersion
	out[1] = byte(len(key.id)) //nolint:gosec // G115: key IDs are at most 32 characters (keyIDPatternString).
	copy(out[2:], key.id)
	nonce := out[headerLen:]
	if _, err := io.ReadFull(k.rand, nonce); err != nil {
		return nil, fmt.Errorf("seal: generate nonce: %w", err)
	}
	aad := append(out[:headerLen:headerLen], additionalData...)
	return key.aead.Seal(out, nonce, plaintext, aad), nil //nolint:gosec // G407: the nonce is read from the random source just above.
}

// Open decrypts what Seal produced with any key of the ring. On a key ID it does not
// know it first reloads the ring from its Secret (rate-limited), so that data sealed by
// a replica that just rotated opens here too.
func (k *Keyring) Open(sealed, additionalData []byte) ([]byte, error) {
	if len(sealed) < 2 {
		return nil, fmt.Errorf("%w: truncated header", ErrCannotOpen)
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w: unsupported format version %d", ErrCannotOpen, sealed[0])
	}
	headerLen := 2 + int(sealed[1])
	if len(sealed) < headerLen+nonceSize+tagSize {
		return nil, fmt.Errorf("%w: truncated (%d bytes)", ErrCannotOpen, len(sealed))
	}
	id := string(sealed[2:headerLen])
	key := k.current().keys[id]
	if key == nil {
		k.reloadAfterMiss()
		if key = k.current().keys[id]; key == nil {
			return nil, fmt.Errorf("%w: unknown key ID %q", ErrCannotOpen, id)
		}
	}
	nonce := sealed[headerLen : headerLen+nonceSize]
	aad := append(sealed[:headerLen:headerLen], additionalData...)
	plaintext, err := key.aead.Open(nil, nonce, sealed[headerLen+nonceSize:], aad)
	if err != nil {
		return nil, fmt.Errorf("%w with key %s (tampered, or other additional data): %w", ErrCannotOpen, id, err)
	}
	return plaintext, nil
}

// reloadAfterMiss reloads the ring unless that was done less than missReloadInterval
// ago. Open has no context, hence the bounded background one. A failed reload leaves
// the ring as it was; the caller then reports the unknown key.
func (k *Keyring) reloadAfterMiss() {
	if k.secrets == nil {
		return
	}
	k.missMu.Lock()
	defer k.missMu.Unlock()
	now := k.clock()
	if !k.lastMiss.IsZero() && now.Sub(k.lastMiss) < missReloadInterval {
		return
	}
	k.lastMiss = now
	ctx, cancel := context.WithTimeout(context.Background(), missReloadTimeout)
	defer cancel()
	_ = k.Reload(ctx)
}
