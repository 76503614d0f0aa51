// SPDX-License-Identifier: Apache-2.0

package sessionstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/kubernetes/fake"
)

func codecKeyring(tb testing.TB) *Keyring {
	tb.Helper()
	keyring, err := LoadKeyring(context.Background(), fake.NewClientset().CoreV1().Secrets("sup"), "selkie-session-keys", nil)
	if err != nil {
		tb.Fatal(err)
	}
	return keyring
}

// refreshedSession is a session as it looks after many refreshes: the live access
// tokens the provider keeps and a full replay-detection history of 32-byte hashes.
func refreshedSession() *Session {
	s := fuzzSession(fuzzSessionID([]byte("refreshed")), "https://issuer.example.com/fd1", "pinny",
		[]string{"ops", "dev"}, bytes.Repeat([]byte("u"), 1500))
	s.DeviceGrant = nil
	s.AccessTokens = nil
	for i := range 8 {
		s.AccessTokens = append(s.AccessTokens, Token{Hash: bytes.Repeat([]byte{byte(i)}, 32), Expires: s.AuthTime.Add(time.Duration(i) * time.Minute)})
	}
	s.UsedRefreshTokens = nil
	for i := range 100 {
		s.UsedRefreshTokens = append(s.UsedRefreshTokens, bytes.Repeat([]byte{byte(i)}, 32))
	}
	return s
}

func TestUsedRefreshTokensArePacked(t *testing.T) {
	keyring := codecKeyring(t)
	s := refreshedSession()
	secret, err := encodeSecret(s, keyring)
	if err != nil {
		t.Fatal(err)
	}
	var stored map[string]json.RawMessage
	if err := json.Unmarshal(secret.Data[dataSession], &stored); err != nil {
		t.Fatal(err)
	}
	if _, ok := stored["usedRefreshTokens"]; ok {
		t.Error("32-byte hashes were written as a list, want usedRefreshTokensPacked")
	}
	var packed []byte
	if err := json.Unmarshal(stored["usedRefreshTokensPacked"], &packed); err != nil || len(packed) != 100*33 {
		t.Fatalf("usedRefreshTokensPacked: %d bytes, %v; want %d", len(packed), err, 100*33)
	}
	got, err := decodeSecret(secret, keyring)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.UsedRefreshTokens, got.UsedRefreshTokens); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	// A decoded hash cannot grow into its neighbour.
	_ = append(got.UsedRefreshTokens[0], 0xff)
	if got.UsedRefreshTokens[1][0] != 1 {
		t.Error("appending to one unpacked hash changed the next one")
	}
}

func TestUsedRefreshTokensListIsStillRead(t *testing.T) {
	keyring := codecKeyring(t)
	s := refreshedSession()
	// Hashes too long to pack are written as the list; so were all hashes before.
	long := bytes.Repeat([]byte{7}, maxPackedHash+1)
	s.UsedRefreshTokens = append(s.UsedRefreshTokens, long)
	secret, err := encodeSecret(s, keyring)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(secret.Data[dataSession], []byte(`"usedRefreshTokens":[`)) {
		t.Fatal("a hash longer than 255 bytes was packed")
	}
	got, err := decodeSecret(secret, keyring)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.UsedRefreshTokens, got.UsedRefreshTokens); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestMalformedPackedHashesAreCorrupt(t *testing.T) {
	keyring := codecKeyring(t)
	for name, edit := range map[string]func(m map[string]any){
		"length past the end": func(m map[string]any) { m["usedRefreshTokensPacked"] = []byte{32, 1, 2} },
		"zero length":         func(m map[string]any) { m["usedRefreshTokensPacked"] = []byte{1, 9, 0} },
		"both forms":          func(m map[string]any) { m["usedRefreshTokens"] = [][]byte{{1}} },
	} {
		t.Run(name, func(t *testing.T) {
			secret, err := encodeSecret(refreshedSession(), keyring)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(secret.Data[dataSession], &m); err != nil {
				t.Fatal(err)
			}
			edit(m)
			if secret.Data[dataSession], err = json.Marshal(m); err != nil {
				t.Fatal(err)
			}
			if s, err := decodeSecret(secret, keyring); !errors.Is(err, ErrCorrupt) || s != nil {
				t.Errorf("decodeSecret = %v, %v; want ErrCorrupt and no session", s, err)
			}
		})
	}
}

// BenchmarkSessionSecretCodec measures what every refresh pays on top of its network
// round trips: decoding the session it reads (or, when this process read or wrote the
// same bytes last, taking it from the decoded-session memo) and encoding the one it
// writes back.
func BenchmarkSessionSecretCodec(b *testing.B) {
	keyring := codecKeyring(b)
	s := refreshedSession()
	secret, err := encodeSecret(s, keyring)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeSecret(secret, keyring); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode-remembered", func(b *testing.B) {
		memo := newDecodedMemo(1)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := memo.decode(secret, keyring); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := encodeSecret(s, keyring); err != nil {
				b.Fatal(err)
			}
		}
	})
}
