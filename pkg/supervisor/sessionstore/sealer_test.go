// SPDX-License-Identifier: Apache-2.0

package sessionstore_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
)

// fakeClock is a settable clock for LoadKeyring, RotateKeyring and GC.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, time.August, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTestKeyring(t *testing.T) *sessionstore.Keyring {
	t.Helper()
	k, err := sessionstore.LoadKeyring(t.Context(), newStrictClientset().CoreV1().Secrets(testNamespace), "keys", nil)
	if err != nil {
		t.Fatalf("LoadKeyring: %v", err)
	}
	return k
}

func TestKeyringSealOpen(t *testing.T) {
	t.Parallel()
	k := newTestKeyring(t)
	tests := []struct {
		name          string
		plaintext, ad []byte
	}{
		{name: "typical", plaintext: []byte(`{"refresh_token":"r"}`), ad: []byte("sessionid")},
		{name: "empty plaintext", plaintext: nil, ad: []byte("sessionid")},
		{name: "no additional data", plaintext: []byte("x"), ad: nil},
		{name: "large", plaintext: bytes.Repeat([]byte("0123456789"), 10_000), ad: []byte("a")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sealed, err := k.Seal(tt.plaintext, tt.ad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			id := k.ActiveKeyID()
			if len(id) != 8 || sealed[0] != 1 || int(sealed[1]) != len(id) || string(sealed[2:2+len(id)]) != id {
				t.Errorf("header = %x, want version 1 and key ID %s", sealed[:2+len(id)], id)
			}
			if want := 2 + len(id) + 12 + len(tt.plaintext) + 16; len(sealed) != want {
				t.Errorf("len(sealed) = %d, want %d", len(sealed), want)
			}
			got, err := k.Open(sealed, tt.ad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open = %q, want %q", got, tt.plaintext)
			}
			again, err := k.Seal(tt.plaintext, tt.ad)
			if err != nil || bytes.Equal(again, sealed) {
				t.Errorf("two seals are identical (%v): nonces must be random", err)
			}
		})
	}
}

func TestKeyringOpenRejects(t *testing.T) {
	t.Parallel()
	k := newTestKeyring(t)
	ad := []byte("session-a")
	sealed, err := k.Seal([]byte("upstream tokens"), ad)
	if err != nil {
		t.Fatal(err)
	}
	header := 2 + len(k.ActiveKeyID())
	flip := func(i int) []byte {
		c := bytes.Clone(sealed)
		c[i] ^= 0x01
		return c
	}
	other, err := newTestKeyring(t).Seal([]byte("upstream tokens"), ad)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		sealed  []byte
		ad      []byte
		wantMsg string
	}{
		{name: "nil", sealed: nil, ad: ad, wantMsg: "truncated"},
		{name: "one byte", sealed: sealed[:1], ad: ad, wantMsg: "truncated"},
		{name: "header only", sealed: sealed[:header], ad: ad, wantMsg: "truncated"},
		{name: "last byte missing", sealed: sealed[:len(sealed)-1], ad: ad, wantMsg: "authentication"},
		{name: "key ID length past the end", sealed: []byte{1, 255, 'a'}, ad: ad, wantMsg: "truncated"},
		{name: "unknown version", sealed: flip(0), ad: ad, wantMsg: "unsupported format version"},
		{name: "key ID changed", sealed: flip(2), ad: ad, wantMsg: "unknown key ID"},
		{name: "nonce changed", sealed: flip(header), ad: ad, wantMsg: "authentication"},
		{name: "ciphertext changed", sealed: flip(header + 12), ad: ad, wantMsg: "authentication"},
		{name: "tag changed", sealed: flip(len(sealed) - 1), ad: ad, wantMsg: "authentication"},
		{name: "wrong additional data", sealed: sealed, ad: []byte("session-b"), wantMsg: "authentication"},
		{name: "no additional data", sealed: sealed, ad: nil, wantMsg: "authentication"},
		{name: "sealed by another keyring", sealed: other, ad: ad, wantMsg: "unknown key ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := k.Open(tt.sealed, tt.ad)
			if !errors.Is(err, sessionstore.ErrCannotOpen) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Open = %q, %v; want ErrCannotOpen mentioning %q", got, err, tt.wantMsg)
			}
		})
	}
	// Every truncation fails cleanly.
	for n := range len(sealed) {
		if _, err := k.Open(sealed[:n], ad); !errors.Is(err, sessionstore.ErrCannotOpen) {
			t.Fatalf("Open(first %d bytes) = %v", n, err)
		}
	}
}

func TestKeyringOpenDoesNotModifyInput(t *testing.T) {
	t.Parallel()
	k := newTestKeyring(t)
	sealed, err := k.Seal([]byte("p"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	// Spare capacity after the sealed bytes must not receive the additional data.
	buf := append(bytes.Clone(sealed), bytes.Repeat([]byte{0xaa}, 64)...)
	in := buf[:len(sealed)]
	if _, err := k.Open(in, []byte("additional data longer than nothing")); err == nil {
		t.Fatal("Open with wrong additional data succeeded")
	}
	if !bytes.Equal(buf[len(sealed):], bytes.Repeat([]byte{0xaa}, 64)) || !bytes.Equal(in, sealed) {
		t.Error("Open wrote into its input")
	}
}

func TestZeroKeyringRefuses(t *testing.T) {
	t.Parallel()
	var k sessionstore.Keyring
	if _, err := k.Seal([]byte("p"), nil); err == nil {
		t.Error("zero Keyring sealed")
	}
	if _, err := k.Open([]byte{1, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, nil); !errors.Is(err, sessionstore.ErrCannotOpen) {
		t.Errorf("zero Keyring Open = %v", err)
	}
	if err := k.Reload(t.Context()); err == nil {
		t.Error("zero Keyring reloaded")
	}
}
