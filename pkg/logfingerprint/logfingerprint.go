// SPDX-License-Identifier: Apache-2.0

// Package logfingerprint names secrets and personal data in logs without revealing them.
//
// A plain SHA-256 of a low-entropy value (a username, a short webhook token) is reversed
// by hashing guesses, so log lines carry a keyed fingerprint instead: HMAC-SHA256 under a
// key that is not in the logs. Whoever holds the key can compute the fingerprint of a
// value they suspect and search the logs for it; whoever holds only the logs cannot.
package logfingerprint

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// MinKeySize is the shortest key Load accepts, in bytes.
const MinKeySize = 32

// maxKeyFileSize bounds what Load reads.
const maxKeyFileSize = 4096

// size is how many bytes of the HMAC a fingerprint keeps: enough that two values in one
// log never collide by chance.
const size = 16

// Key computes fingerprints.
type Key struct{ key []byte }

// Random returns a key drawn for this process alone: its fingerprints correlate lines of
// one process's logs and nothing else.
func Random() *Key {
	k := make([]byte, MinKeySize)
	_, _ = rand.Read(k) // crypto/rand.Read never fails
	return &Key{key: k}
}

// Load reads a key from a file (for instance a mounted Secret), so that every replica
// writes the same fingerprint for the same value. Surrounding whitespace is ignored.
func Load(path string) (*Key, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the key file the server was configured with.
	if err != nil {
		return nil, fmt.Errorf("log fingerprint key: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("log fingerprint key %s: %w", path, err)
	}
	if len(b) > maxKeyFileSize {
		return nil, fmt.Errorf("log fingerprint key %s: longer than %d bytes", path, maxKeyFileSize)
	}
	k := bytes.TrimSpace(b)
	if len(k) < MinKeySize {
		return nil, fmt.Errorf("log fingerprint key %s: %d bytes, want at least %d (for instance: head -c 32 /dev/urandom | base64)", path, len(k), MinKeySize)
	}
	return &Key{key: k}, nil
}

// New returns the key in path, or a random one when path is empty.
func New(path string) (*Key, error) {
	if path == "" {
		return Random(), nil
	}
	return Load(path)
}

// Of returns value's fingerprint: 32 hex digits. A nil Key is a programming error.
func (k *Key) Of(value string) string {
	if k == nil {
		panic(errors.New("logfingerprint: nil key"))
	}
	return Compute(k.key, value)
}

// Compute is the fingerprint of value under key, for tools that hold the key's bytes
// (tests, an operator searching logs).
func Compute(key []byte, value string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil)[:size])
}
