// SPDX-License-Identifier: Apache-2.0

package sessionstore

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// fuzzTimes compares times as instants: a time read back from JSON has another
// *time.Location than the one it was written with.
var fuzzTimes = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

// fuzzSessionID turns arbitrary bytes into a valid session ID (26 lower-case base32
// characters), as the provider makes them.
func fuzzSessionID(b []byte) string {
	raw := make([]byte, 16)
	copy(raw, b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw))
}

// fuzzSession is a session with every kind of field set, its strings from the fuzzer.
func fuzzSession(id, issuer, username string, groups []string, upstreamData []byte) *Session {
	at := time.Date(2026, time.January, 2, 3, 4, 5, 6, time.UTC)
	return &Session{
		ID: id, Issuer: issuer, ClientID: "pinniped-cli", GrantedScopes: []string{"openid", "groups"},
		RedirectURI: "http://127.0.0.1:1234/callback", Nonce: "nonce-123", CodeChallenge: strings.Repeat("c", 43),
		AuthTime: at, Expires: at.Add(9 * time.Hour),
		IdP:     IdP{DisplayName: "corp", Type: "ldap", Kind: "LDAPIdentityProvider", Name: "corp", UID: "uid-1"},
		Subject: "ldaps://ldap.example.com?sub=" + username, Username: username, Groups: groups,
		AdditionalClaims: map[string]any{"email": username + "@example.com", "n": 1.5, "l": []any{"a", true}},
		UpstreamUsername: username, UpstreamGroups: groups, UpstreamSubject: username, UpstreamData: upstreamData,
		Code:         &Token{Hash: []byte{1, 2, 3}, Expires: at.Add(time.Minute), Used: true},
		AccessTokens: []Token{{Hash: []byte{4}, Expires: at.Add(2 * time.Minute)}},
		RefreshToken: &Token{Hash: []byte{5}, Expires: at.Add(time.Hour)}, UsedRefreshTokens: [][]byte{{6}, {7}},
		DeviceGrant: &DeviceGrant{Status: DeviceGrantApproved, CodeHash: []byte{8}, Expires: at.Add(10 * time.Minute),
			Interval: 5*time.Second + time.Millisecond, LastPoll: at},
	}
}

// FuzzSessionSecretDecode checks the codec of the Secret store: decodeSecret reads
// Secrets that anyone with write access to the namespace, an older or newer
// supervisor, or a broken etcd restore may have left.
//
// Properties:
//   - decoding a Secret with fuzzed name, type, format version, session JSON and expiry
//     annotation never panics;
//   - a refusal is ErrCorrupt (never ErrNotFound) with no partial session, so that
//     callers cannot mistake an unreadable session for a missing or a valid one;
//   - a decoded session's ID is the Secret name without its "selkie-session-" prefix
//     (a session cannot be read under another session's name), it carries the
//     Secret's resourceVersion, and decoding is deterministic;
//   - a decoded session encodes and decodes back to itself (what the store reads, it
//     writes back unchanged);
//   - encodeSecret then decodeSecret of a session with fuzzed issuer, username, groups
//     and upstream data returns exactly what the memory store returns for it, and
//     keeps the fuzzed strings byte for byte, which protects against the two stores
//     disagreeing (a refresh would then see a changed identity);
//   - labels carry hashes of the issuer and username, never the values, and the upstream
//     data is not in the Secret in the clear.
func FuzzSessionSecretDecode(f *testing.F) {
	ctx := context.Background()
	keyring, err := LoadKeyring(ctx, fake.NewClientset().CoreV1().Secrets("sup"), "selkie-session-keys", nil)
	if err != nil {
		f.Fatal(err)
	}
	genuine := func(s *Session) []byte {
		secret, err := encodeSecret(s, keyring)
		if err != nil {
			f.Fatal(err)
		}
		return secret.Data[dataSession]
	}
	id := fuzzSessionID([]byte("0123456789abcdef"))
	plain := genuine(fuzzSession(id, "https://id.example.com/fd", "alice", []string{"a", "b"}, nil))
	sealed := genuine(fuzzSession(id, "https://id.example.com/fd", "alice", nil, []byte("upstream-refresh-token")))
	f.Add(secretNamePrefix+id, plain, []byte("1"), "2026-01-02T12:04:05.000000006Z", true, []byte("0123456789abcdef"), "https://id.example.com/fd", "alice", "a\x00b", []byte("tokens"))
	f.Add(secretNamePrefix+id, sealed, []byte("1"), "2026-01-02T12:04:05Z", true, []byte{}, "", "", "", []byte{})
	f.Add(id, plain, []byte("1"), "", true, []byte{0xff}, "https://ü.example/", "ü\x00", "\x00", []byte(nil))
	f.Add(secretNamePrefix+"other", plain, []byte("2"), "not a time", false, []byte("x"), "i", "u", "g", []byte("d"))
	f.Add(secretNamePrefix, []byte(`{"id":""}`), []byte("1"), "2026-01-02T12:04:05Z", true, []byte("y"), "i", " ", "", []byte("d"))
	f.Add(secretNamePrefix+"x", []byte(`{"id":"x","deviceGrant":{"interval":"5"},"additionalClaims":{"n":1e400}}`), []byte("1"), "", true, []byte("z"), "", "", "", []byte(nil))
	f.Add(secretNamePrefix+"x", []byte(`{"id":"x","sealedUpstreamData":"AQ=="}`), []byte("1"), "", true, []byte("z"), "", "", "", []byte(nil))
	f.Add("", []byte(`null`), []byte(nil), "", true, []byte(nil), "", "", "", []byte(nil))
	f.Fuzz(func(t *testing.T, name string, sessionJSON, version []byte, expires string, sessionType bool,
		idBytes []byte, issuer, username, groupList string, upstreamData []byte) {
		// A Secret from anywhere.
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: "42", Annotations: map[string]string{annotationExpires: expires}},
			Type:       SessionSecretType,
			Data:       map[string][]byte{dataSession: sessionJSON, dataVersion: version},
		}
		if !sessionType {
			secret.Type = corev1.SecretTypeOpaque
		}
		if _, err := secretExpires(secret); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Errorf("secretExpires error %v is not ErrCorrupt", err)
		}
		s, err := decodeSecret(secret, keyring)
		if err != nil {
			if s != nil {
				t.Errorf("decodeSecret refused the Secret (%v) but returned a session %+v", err, s)
			}
			if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotFound) {
				t.Errorf("decodeSecret error %v is not ErrCorrupt, or is ErrNotFound", err)
			}
		} else {
			if want := strings.TrimPrefix(name, secretNamePrefix); s.ID != want {
				t.Errorf("session ID %q read from Secret %q, want %q", s.ID, name, want)
			}
			if s.ResourceVersion != "42" {
				t.Errorf("resourceVersion %q, want the Secret's", s.ResourceVersion)
			}
			again, err := decodeSecret(secret, keyring)
			if err != nil || !cmp.Equal(s, again, fuzzTimes) {
				t.Errorf("decoding twice differs: %v\n%s", err, cmp.Diff(s, again, fuzzTimes))
			}
			reencoded, err := encodeSecret(s, keyring)
			if err != nil {
				t.Fatalf("a decoded session does not encode: %v", err)
			}
			reencoded.Name, reencoded.ResourceVersion = name, "42"
			back, err := decodeSecret(reencoded, keyring)
			if err != nil {
				t.Fatalf("a re-encoded session does not decode: %v", err)
			}
			if diff := cmp.Diff(s, back, fuzzTimes); diff != "" {
				t.Errorf("decode, encode, decode changed the session (-first +second):\n%s", diff)
			}
		}

		// A session with fuzzed strings, through the codec and through the memory store.
		var groups []string
		if groupList != "" {
			groups = strings.Split(groupList, "\x00")
		}
		orig := fuzzSession(fuzzSessionID(idBytes), issuer, username, groups, upstreamData)
		encoded, err := encodeSecret(orig, keyring)
		memErr := NewMemoryStore().Create(context.Background(), fuzzSession(orig.ID, issuer, username, groups, upstreamData))
		if (err != nil) != (memErr != nil) {
			t.Fatalf("the stores disagree on whether to keep the session: Secret %v, memory %v", err, memErr)
		}
		if err != nil {
			// Both refuse it, for the same reason: strings that are not valid UTF-8.
			if !strings.Contains(err.Error(), "not valid UTF-8") {
				t.Fatalf("encode: %v", err)
			}
			return
		}
		if encoded.Name != secretNamePrefix+orig.ID || encoded.Labels[labelUsername] != hashLabel(username) || encoded.Labels[labelIssuer] != hashLabel(issuer) {
			t.Errorf("name %q, labels %v: not the ID and the hashes of the issuer and username", encoded.Name, encoded.Labels)
		}
		if len(upstreamData) >= 8 {
			// The upstream data is in the clear if it appears in the Secret, unless it
			// also appears in the Secret of the same session without upstream data.
			clear := func(raw []byte) bool {
				return bytes.Contains(raw, upstreamData) || bytes.Contains(raw, []byte(base64.StdEncoding.EncodeToString(upstreamData)))
			}
			without, err := encodeSecret(fuzzSession(orig.ID, issuer, username, groups, nil), keyring)
			if err != nil {
				t.Fatal(err)
			}
			if clear(encoded.Data[dataSession]) && !clear(without.Data[dataSession]) {
				t.Errorf("the upstream data is in the Secret in the clear: %s", encoded.Data[dataSession])
			}
		}
		decoded, err := decodeSecret(encoded, keyring)
		if err != nil {
			t.Fatalf("decode of a fresh encoding: %v", err)
		}
		mem := NewMemoryStore()
		if err := mem.Create(context.Background(), fuzzSession(orig.ID, issuer, username, groups, upstreamData)); err != nil {
			t.Fatalf("memory store: %v", err)
		}
		want, err := mem.Get(context.Background(), orig.ID)
		if err != nil {
			t.Fatalf("memory store: %v", err)
		}
		want.ResourceVersion = ""
		if diff := cmp.Diff(want, decoded, fuzzTimes); diff != "" {
			t.Errorf("the Secret codec and the memory store disagree (-memory +secret):\n%s", diff)
		}
		if decoded.Username != username || decoded.UpstreamUsername != username || decoded.Issuer != issuer ||
			!cmp.Equal(decoded.Groups, cloneSlice(groups)) || !bytes.Equal(decoded.UpstreamData, upstreamData) {
			t.Errorf("round trip changed the identity: username %q, issuer %q, groups %q; want %q, %q, %q",
				decoded.Username, decoded.Issuer, decoded.Groups, username, issuer, groups)
		}
	})
}
