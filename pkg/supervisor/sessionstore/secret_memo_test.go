// SPDX-License-Identifier: Apache-2.0

package sessionstore

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// memoSessions are sessions whose times take each form decoding can give them: UTC, an
// offset of its own, a monotonic clock reading, the zero time.
func memoSessions() map[string]*Session {
	now := time.Now()
	offset := time.Date(2026, time.December, 8, 3, 4, 5, 6, time.FixedZone("CET", 3600))
	local := refreshedSession()
	local.AuthTime, local.Expires = now, now.Add(time.Hour)
	local.RefreshToken.Expires = now.Add(time.Minute)
	zoned := refreshedSession()
	zoned.AuthTime, zoned.Expires = offset, offset.Add(time.Hour)
	zoned.DeviceGrant = &DeviceGrant{Status: DeviceGrantApproved, CodeHash: []byte{1}, Expires: offset, Interval: time.Second, LastPoll: now}
	return map[string]*Session{
		"refreshed":   refreshedSession(),
		"monotonic":   local,
		"offset":      zoned,
		"minimal":     {ID: fuzzSessionID([]byte("minimal")), Issuer: "https://issuer.example.com"},
		"no upstream": func() *Session { s := refreshedSession(); s.UpstreamData = nil; return s }(),
	}
}

func TestDecodedMemoGivesWhatDecodingGives(t *testing.T) {
	keyring := codecKeyring(t)
	for name, s := range memoSessions() {
		t.Run(name, func(t *testing.T) {
			secret, written, err := encodeSecretDecoded(s, keyring)
			if err != nil {
				t.Fatal(err)
			}
			secret.ResourceVersion = "7"
			want, err := decodeSecret(secret, keyring)
			if err != nil {
				t.Fatal(err)
			}
			remembered, err := written.open("7", keyring)
			if err != nil {
				t.Fatal(err)
			}
			memo := newDecodedMemo(4)
			read, err := memo.decode(secret, keyring)
			if err != nil {
				t.Fatal(err)
			}
			for what, got := range map[string]*Session{"remembered at the write": remembered, "decoded through the memo": read} {
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("%s (-decoded +got):\n%s", what, diff)
				}
				_, wantOffset := want.AuthTime.Zone()
				if _, offset := got.AuthTime.Zone(); offset != wantOffset || got.AuthTime != got.AuthTime.Round(0) {
					t.Errorf("%s: AuthTime %v, decoded %v", what, got.AuthTime, want.AuthTime)
				}
			}
		})
	}
}

// failingSealer opens nothing while fail is set.
type failingSealer struct {
	Sealer
	fail bool
}

func (f *failingSealer) Open(sealed, additionalData []byte) ([]byte, error) {
	if f.fail {
		return nil, errors.New("no such key")
	}
	return f.Sealer.Open(sealed, additionalData)
}

func TestDecodedMemoFollowsTheSecret(t *testing.T) {
	sealer := &failingSealer{Sealer: codecKeyring(t)}
	memo := newDecodedMemo(4)
	s := refreshedSession()
	secret, written, err := encodeSecretDecoded(s, sealer)
	if err != nil {
		t.Fatal(err)
	}
	memo.remember(s.ID, written)
	get := func(want string) *Session {
		t.Helper()
		got, err := memo.decode(secret, sealer)
		if err != nil {
			t.Fatal(err)
		}
		if got.Username != want {
			t.Fatalf("username %q, want %q", got.Username, want)
		}
		return got
	}
	// What was written is not decoded again, however often it is read; each read is a
	// copy of its own.
	get(s.Username).Groups[0] = "changed by a caller"
	if got := get(s.Username); got.Groups[0] != s.Groups[0] || string(got.UpstreamData) != string(s.UpstreamData) {
		t.Errorf("second read: groups %q, upstream data changed: %t", got.Groups, string(got.UpstreamData) != string(s.UpstreamData))
	}
	if n := memo.decodes.Load(); n != 0 {
		t.Errorf("%d decodes of the session just written", n)
	}
	// Bytes written by someone else are decoded, once.
	other := refreshedSession()
	other.Username = "someone else"
	if secret, err = encodeSecret(other, sealer); err != nil {
		t.Fatal(err)
	}
	get(other.Username)
	get(other.Username)
	if n := memo.decodes.Load(); n != 1 {
		t.Errorf("%d decodes of the changed session, want 1", n)
	}
	// The upstream data is opened at every read: a key gone makes the session unreadable.
	sealer.fail = true
	if got, err := memo.decode(secret, sealer); !errors.Is(err, ErrCorrupt) || got != nil {
		t.Errorf("with the key gone: %v, %v; want ErrCorrupt", got, err)
	}
	sealer.fail = false
	// So are the type and the format version, and unreadable bytes are forgotten.
	for name, edit := range map[string]func(){
		"type":    func() { secret.Type = "Opaque" },
		"version": func() { secret.Data[dataVersion] = []byte("2") },
		"bytes":   func() { secret.Data[dataSession] = []byte("{") },
	} {
		saved := secret.DeepCopy()
		edit()
		if got, err := memo.decode(secret, sealer); !errors.Is(err, ErrCorrupt) || got != nil {
			t.Errorf("%s changed: %v, %v; want ErrCorrupt", name, got, err)
		}
		secret = saved
	}
	memo.forget(s.ID)
	get(other.Username)
	if n := memo.decodes.Load(); n != 3 {
		t.Errorf("%d decodes after the unreadable bytes and forget, want 3", n)
	}
}
