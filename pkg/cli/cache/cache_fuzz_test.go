// SPDX-License-Identifier: Apache-2.0

package cache

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientauthenticationv1beta1 "k8s.io/client-go/pkg/apis/clientauthentication/v1beta1"
	"sigs.k8s.io/yaml"
)

// fuzzInstants compares times as instants: times read back from the file are in UTC
// or local time, whatever they were written in.
var fuzzInstants = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

// yamlCarries reports whether YAML reads every string back unchanged: the caches do not
// store a value it would not (DEL fails to encode, NEL reads back as a space).
func yamlCarries(strs ...string) bool {
	data, err := yaml.Marshal(strs)
	if err != nil {
		return false
	}
	var back []string
	return yaml.Unmarshal(data, &back) == nil && slices.Equal(back, strs)
}

// fuzzCacheFile writes data as a cache file in a fresh directory and returns its path.
func fuzzCacheFile(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cache.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// readBack reads the cache file and decodes it; the file the cache writes must always
// be a valid one of kind.
func readBack[D any, P document[D]](t *testing.T, path string) ([]byte, P) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := decode[D, P](data)
	if err != nil {
		t.Fatalf("the cache wrote a file it cannot read: %v\n%s", err, data)
	}
	return data, doc
}

// utf8Text makes s valid UTF-8: a cache file is YAML text, which cannot carry other
// bytes (the CLI's own values, tokens and URLs from JSON, are always valid UTF-8).
func utf8Text(s string) string { return strings.ToValidUTF8(s, "?") }

// FuzzSessionCacheFile loads fuzzed bytes as the session cache file.
//
// Properties:
//   - reading never panics;
//   - decode either refuses the file with no document or returns one of the right
//     apiVersion and kind, and the cache then lists exactly the keys of the entries
//     that are not stale; a file that does not decode is an empty cache, and is replaced
//     by a valid empty file;
//   - every listed key has tokens, none of them empty or expired (no half-read entry);
//   - after loading, Put then Get returns the tokens put, the other entries stay, and the
//     file the cache writes is a fixed point: reading and writing it back unchanged
//     gives the same bytes, which protects against a cache that drifts or grows on
//     every kubectl call.
func FuzzSessionCacheFile(f *testing.F) {
	f.Add([]byte(referenceSessionFile), "https://id.example.com/fd", "eyJ.id.token")
	f.Add([]byte(wantSessionFileAfterGet), "https://other.example.com", "t")
	f.Add([]byte("apiVersion: config.supervisor.pinniped.dev/v1alpha1\nkind: SessionCache\nsessions: []\n"), "", "")
	f.Add([]byte("apiVersion: config.supervisor.pinniped.dev/v1alpha1\nkind: CredentialCache\ncredentials: []\n"), "i", "x")
	f.Add([]byte("apiVersion: config.supervisor.pinniped.dev/v1alpha1\nkind: SessionCache\nsessions:\n- key: {scopes: 7}\n  tokens: {refresh: {token: r}}\n"), "i", "x")
	f.Add([]byte("apiVersion: config.supervisor.pinniped.dev/v1alpha1\nkind: SessionCache\nsessions:\n- tokens: {id: {token: t, expiryTimestamp: \"9999-12-31T23:59:59Z\", claims: {a: &x [*x]}}}\n"), "i", "x")
	f.Add([]byte(referenceSessionFile), "https://id.example.com/fd", "a\u0085b") // NEL: YAML reads it back as a space
	f.Add([]byte("{"), "\xff", "\x00")
	f.Add([]byte{}, "", "")
	f.Fuzz(func(t *testing.T, data []byte, issuer, token string) {
		issuer, token = utf8Text(issuer), utf8Text(token)
		now := at(0)
		doc, decodeErr := decode[sessionFile](data)
		if decodeErr != nil && doc != nil {
			t.Fatalf("decode refused the file (%v) but returned %+v", decodeErr, doc)
		}
		if decodeErr == nil && (doc.APIVersion != apiVersion || doc.Kind != sessionKind) {
			t.Fatalf("decode accepted apiVersion %q kind %q", doc.APIVersion, doc.Kind)
		}
		path := fuzzCacheFile(t, data)
		c := NewSessionCache(path, WithClock(func() time.Time { return now }), WithLockTimeout(5*time.Second))

		keys := c.Keys()
		var want []SessionKey
		if decodeErr == nil {
			doc.normalize(now)
			for _, e := range doc.Sessions {
				want = append(want, normalizeKey(e.Key))
			}
		}
		if len(keys) != len(want) || (len(want) > 0 && !cmp.Equal(keys, want)) {
			t.Fatalf("keys %+v, want %+v (decode error %v)", keys, want, decodeErr)
		}
		_, written := readBack[sessionFile](t, path)
		if decodeErr != nil && len(written.Sessions) != 0 {
			t.Fatalf("an unreadable file became %d entries", len(written.Sessions))
		}
		for _, k := range keys {
			got := c.Get(k)
			if got == nil || got.ID == nil && got.Access == nil && got.Refresh == nil {
				t.Fatalf("listed key %+v has no tokens", k)
			}
			if got.ID != nil && (got.ID.Token == "" || got.ID.Expiry.Before(now)) ||
				got.Access != nil && (got.Access.Token == "" || got.Access.Expiry.Before(now)) ||
				got.Refresh != nil && got.Refresh.Token == "" {
				t.Fatalf("key %+v has an empty or expired token: %+v", k, got)
			}
		}

		// Put, Get and the other entries.
		key := SessionKey{Issuer: issuer, ClientID: "pinniped-cli", Scopes: []string{"openid", "groups", "offline_access"},
			RedirectURI: "http://localhost:0/callback", UpstreamProviderName: token}
		put := &Tokens{
			Access:  &AccessToken{Token: "at-" + token, Type: "bearer", Expiry: now.Add(2 * time.Minute)},
			Refresh: &RefreshToken{Token: "rt-" + token},
			ID:      &IDToken{Token: "id-" + token, Expiry: now.Add(time.Hour), Claims: map[string]any{"sub": token, "groups": []any{"a", token}}},
		}
		c.Put(key, put)
		got := c.Get(key)
		carried := yamlCarries(issuer, token, "at-"+token, "rt-"+token, "id-"+token)
		if diff := cmp.Diff(put, got, fuzzInstants); carried && diff != "" {
			t.Fatalf("Put then Get (-put +got):\n%s", diff)
		}
		if !carried && got != nil && cmp.Equal(put, got, fuzzInstants) {
			t.Fatalf("tokens YAML cannot carry were cached: %+v", got)
		}
		mustStay := keys
		if carried {
			mustStay = append(mustStay, normalizeKey(key))
		}
		after := c.Keys()
		for _, k := range mustStay {
			found := false
			for _, a := range after {
				found = found || sameKey(a, k)
			}
			if !found {
				t.Errorf("key %+v is gone after Put", k)
			}
		}

		// The written file is a fixed point.
		first, _ := readBack[sessionFile](t, path)
		c.Keys()
		second, _ := readBack[sessionFile](t, path)
		if !bytes.Equal(first, second) {
			t.Errorf("reading and writing back an unchanged cache changed it:\n%s\n---\n%s", first, second)
		}
	})
}

// FuzzCredentialCacheFile loads fuzzed bytes as the credential cache file.
//
// Properties:
//   - reading never panics;
//   - decode either refuses the file with no document or returns one of the right
//     apiVersion and kind; Get finds exactly the entries that are not stale (expired,
//     older than an hour, without expiry), each equal to the first one with its key;
//     a file that does not decode is an empty cache and is replaced by a valid empty one;
//   - after loading, Put then Get returns the credential put (nothing for an empty
//     key), and the file the cache writes is a fixed point.
func FuzzCredentialCacheFile(f *testing.F) {
	valid := `apiVersion: config.supervisor.pinniped.dev/v1alpha1
kind: CredentialCache
credentials:
- key: "0123abcd"
  creationTimestamp: "2025-06-01T11:30:00Z"
  lastUsedTimestamp: "2025-06-01T11:40:00Z"
  credential:
    expirationTimestamp: "2025-06-01T12:10:00Z"
    clientCertificateData: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    clientKeyData: "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"
- key: "expired"
  creationTimestamp: "2025-06-01T11:30:00Z"
  lastUsedTimestamp: "2025-06-01T11:40:00Z"
  credential: {expirationTimestamp: "2025-06-01T11:59:59Z", token: t}
- key: "too-old"
  creationTimestamp: "2025-06-01T10:59:59Z"
  lastUsedTimestamp: "2025-06-01T11:40:00Z"
  credential: {expirationTimestamp: "2025-06-01T13:00:00Z", token: t}
- key: "no-expiry"
  credential: {token: t}
- key: "0123abcd"
  creationTimestamp: "2025-06-01T11:50:00Z"
  credential: {expirationTimestamp: "2025-06-01T12:30:00Z", token: second}
`
	f.Add([]byte(valid), "0123abcd", "token")
	f.Add([]byte(valid), "", "")
	f.Add([]byte("apiVersion: config.supervisor.pinniped.dev/v1alpha1\nkind: CredentialCache\ncredentials: null\n"), "k", "t")
	f.Add([]byte("apiVersion: config.supervisor.pinniped.dev/v1alpha1\nkind: SessionCache\nsessions: []\n"), "k", "t")
	f.Add([]byte("apiVersion: config.supervisor.pinniped.dev/v1alpha1\nkind: CredentialCache\ncredentials:\n- credential: {expirationTimestamp: 12}\n"), "k", "t")
	f.Add([]byte("kind: CredentialCache\n\t- ["), "\x00", "\xfe")
	f.Add([]byte(strings.Repeat("[", 10000)), "k", "t")
	f.Fuzz(func(t *testing.T, data []byte, key, token string) {
		key, token = utf8Text(key), utf8Text(token)
		now := at(0)
		doc, decodeErr := decode[credentialFile](data)
		if decodeErr != nil && doc != nil {
			t.Fatalf("decode refused the file (%v) but returned %+v", decodeErr, doc)
		}
		if decodeErr == nil && (doc.APIVersion != apiVersion || doc.Kind != credentialKind) {
			t.Fatalf("decode accepted apiVersion %q kind %q", doc.APIVersion, doc.Kind)
		}
		path := fuzzCacheFile(t, data)
		c := NewCredentialCache(path, WithClock(func() time.Time { return now }), WithLockTimeout(5*time.Second))

		if decodeErr == nil {
			var rawKeys []string
			for _, e := range doc.Credentials {
				rawKeys = append(rawKeys, e.Key)
			}
			doc.normalize(now)
			for _, k := range rawKeys {
				got := c.Get(k)
				want := doc.lookup(k)
				switch {
				case k == "":
					if got != nil {
						t.Fatalf("Get of the empty key returned %+v", got)
					}
				case want == nil:
					if got != nil {
						t.Fatalf("Get(%q) returned a stale entry %+v", k, got)
					}
				case !cmp.Equal(got, want.Credential, equalMetaTimes()):
					t.Fatalf("Get(%q) = %+v, want %+v", k, got, want.Credential)
				case got.ExpirationTimestamp.Time.Before(now):
					t.Fatalf("Get(%q) returned an expired credential", k)
				}
			}
		} else {
			if got := c.Get("any-key"); got != nil {
				t.Fatalf("an unreadable file gave %+v", got)
			}
			if _, written := readBack[credentialFile](t, path); len(written.Credentials) != 0 {
				t.Fatalf("an unreadable file became %d entries", len(written.Credentials))
			}
		}

		// Put and Get.
		expiry := metav1.NewTime(now.Add(10 * time.Minute))
		put := &clientauthenticationv1beta1.ExecCredentialStatus{ExpirationTimestamp: &expiry, Token: token,
			ClientCertificateData: "cert-" + token, ClientKeyData: "key-" + token}
		c.Put(key, put)
		got := c.Get(key)
		carried := yamlCarries(key, token, "cert-"+token, "key-"+token)
		switch {
		case key == "" && got != nil:
			t.Fatalf("an empty key cached %+v", got)
		case key != "" && !carried && got != nil:
			t.Fatalf("a credential YAML cannot carry was cached: %+v", got)
		case key != "" && carried && !cmp.Equal(put, got, equalMetaTimes()):
			t.Fatalf("Put then Get (-put +got):\n%s", cmp.Diff(put, got, equalMetaTimes()))
		}
		if key == "" {
			return
		}

		// The written file is a fixed point.
		first, _ := readBack[credentialFile](t, path)
		c.Get(key)
		second, _ := readBack[credentialFile](t, path)
		if !bytes.Equal(first, second) {
			t.Errorf("reading and writing back an unchanged cache changed it:\n%s\n---\n%s", first, second)
		}
	})
}
