// SPDX-License-Identifier: Apache-2.0

package cache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// referenceSessionFile is laid out the way the reference CLI's own test data is
// (indented sequences, claims after token, a key without upstream_provider_name).
const referenceSessionFile = `apiVersion: config.supervisor.pinniped.dev/v1alpha1
kind: SessionCache
sessions:
  - creationTimestamp: "2025-06-01T11:00:00Z"
    key:
      clientID: pinniped-cli
      issuer: https://id.example.com/fd1
      redirect_uri: http://localhost:0/callback
      scopes:
        - groups
        - offline_access
        - openid
        - pinniped:request-audience
        - username
      upstream_provider_name: corp-ldap
    lastUsedTimestamp: "2025-06-01T11:30:00Z"
    tokens:
      access:
        expiryTimestamp: "2025-06-01T12:02:00Z"
        token: pin_at_1
        type: bearer
      id:
        expiryTimestamp: "2025-06-01T12:02:00Z"
        token: eyJ.id.1
        claims:
          aud: pinniped-cli
          groups: [a, b]
      refresh:
        token: pin_rt_1
  - creationTimestamp: "2025-05-01T00:00:00Z"
    key: {issuer: "https://other.example.com", clientID: pinniped-cli, scopes: [openid], redirect_uri: "http://localhost:0/callback"}
    lastUsedTimestamp: "2025-05-01T00:00:00Z"
    tokens:
      refresh: {token: pin_rt_2}
`

// wantSessionFileAfterGet is referenceSessionFile after Get of the first key at 12:01:00.
const wantSessionFileAfterGet = `apiVersion: config.supervisor.pinniped.dev/v1alpha1
kind: SessionCache
sessions:
- creationTimestamp: "2025-05-01T00:00:00Z"
  key:
    clientID: pinniped-cli
    issuer: https://other.example.com
    redirect_uri: http://localhost:0/callback
    scopes:
    - openid
  lastUsedTimestamp: "2025-05-01T00:00:00Z"
  tokens:
    refresh:
      token: pin_rt_2
- creationTimestamp: "2025-06-01T11:00:00Z"
  key:
    clientID: pinniped-cli
    issuer: https://id.example.com/fd1
    redirect_uri: http://localhost:0/callback
    scopes:
    - groups
    - offline_access
    - openid
    - pinniped:request-audience
    - username
    upstream_provider_name: corp-ldap
  lastUsedTimestamp: "2025-06-01T12:01:00Z"
  tokens:
    access:
      expiryTimestamp: "2025-06-01T12:02:00Z"
      token: pin_at_1
      type: bearer
    id:
      claims:
        aud: pinniped-cli
        groups:
        - a
        - b
      expiryTimestamp: "2025-06-01T12:02:00Z"
      token: eyJ.id.1
    refresh:
      token: pin_rt_1
`

func ldapKey() SessionKey {
	return SessionKey{
		Issuer:               "https://id.example.com/fd1",
		ClientID:             "pinniped-cli",
		Scopes:               []string{"openid", "offline_access", "username", "groups", "pinniped:request-audience"},
		RedirectURI:          "http://localhost:0/callback",
		UpstreamProviderName: "corp-ldap",
	}
}

func TestSessionCacheReadsReferenceFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sessions.yaml")
	writeFile(t, path, referenceSessionFile)
	c := NewSessionCache(path, WithClock(func() time.Time { return at(time.Minute) }))

	got := c.Get(ldapKey()) // scopes in another order than stored
	want := &Tokens{
		Access:  &AccessToken{Token: "pin_at_1", Type: "bearer", Expiry: at(2 * time.Minute)},
		Refresh: &RefreshToken{Token: "pin_rt_1"},
		ID: &IDToken{Token: "eyJ.id.1", Expiry: at(2 * time.Minute),
			Claims: map[string]any{"aud": "pinniped-cli", "groups": []any{"a", "b"}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Get() (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantSessionFileAfterGet, readFile(t, path)); diff != "" {
		t.Errorf("file after Get (-want +got):\n%s", diff)
	}
}

func TestSessionCacheWritesReferenceLayout(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sessions.yaml")
	clock := newFakeClock(at(0))
	c := NewSessionCache(path, WithClock(clock.Now))

	c.Put(ldapKey(), &Tokens{
		Access:  &AccessToken{Token: "pin_at_1", Type: "bearer", Expiry: at(2*time.Minute + 999*time.Millisecond)},
		Refresh: &RefreshToken{Token: "pin_rt_1"},
		ID: &IDToken{Token: "eyJ.id.1", Expiry: at(2 * time.Minute),
			Claims: map[string]any{"aud": "pinniped-cli", "groups": []any{"a", "b"}}},
	})
	clock.Set(at(time.Minute))
	c.Put(SessionKey{Issuer: "https://other.example.com", ClientID: "pinniped-cli", Scopes: []string{"openid"},
		RedirectURI: "http://localhost:0/callback"}, &Tokens{Refresh: &RefreshToken{Token: "pin_rt_2"}})

	want := `apiVersion: config.supervisor.pinniped.dev/v1alpha1
kind: SessionCache
sessions:
- creationTimestamp: "2025-06-01T12:00:00Z"
  key:
    clientID: pinniped-cli
    issuer: https://id.example.com/fd1
    redirect_uri: http://localhost:0/callback
    scopes:
    - groups
    - offline_access
    - openid
    - pinniped:request-audience
    - username
    upstream_provider_name: corp-ldap
  lastUsedTimestamp: "2025-06-01T12:00:00Z"
  tokens:
    access:
      expiryTimestamp: "2025-06-01T12:02:00Z"
      token: pin_at_1
      type: bearer
    id:
      claims:
        aud: pinniped-cli
        groups:
        - a
        - b
      expiryTimestamp: "2025-06-01T12:02:00Z"
      token: eyJ.id.1
    refresh:
      token: pin_rt_1
- creationTimestamp: "2025-06-01T12:01:00Z"
  key:
    clientID: pinniped-cli
    issuer: https://other.example.com
    redirect_uri: http://localhost:0/callback
    scopes:
    - openid
  lastUsedTimestamp: "2025-06-01T12:01:00Z"
  tokens:
    refresh:
      token: pin_rt_2
`
	if diff := cmp.Diff(want, readFile(t, path)); diff != "" {
		t.Errorf("file (-want +got):\n%s", diff)
	}
}

func TestSessionCachePutReplacesAndKeepsCreation(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sessions.yaml")
	clock := newFakeClock(at(0))
	c := NewSessionCache(path, WithClock(clock.Now))
	key := ldapKey()

	c.Put(key, &Tokens{Refresh: &RefreshToken{Token: "old"}, ID: &IDToken{Token: "id-old", Expiry: at(time.Hour)}})
	clock.Set(at(10 * time.Minute))
	reordered := key
	reordered.Scopes = []string{"username", "pinniped:request-audience", "openid", "offline_access", "groups"}
	c.Put(reordered, &Tokens{Refresh: &RefreshToken{Token: "new"}})

	f := decodeSessions(t, path)
	if len(f.Sessions) != 1 {
		t.Fatalf("got %d sessions, want 1", len(f.Sessions))
	}
	e := f.Sessions[0]
	if diff := cmp.Diff(at(0), e.CreationTimestamp.Time); diff != "" {
		t.Errorf("creationTimestamp (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(at(10*time.Minute), e.LastUsedTimestamp.Time); diff != "" {
		t.Errorf("lastUsedTimestamp (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(storedTokens{Refresh: &RefreshToken{Token: "new"}}, e.Tokens); diff != "" {
		t.Errorf("tokens (-want +got):\n%s", diff)
	}
}

func TestSessionCacheGet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "sessions.yaml")
	clock := newFakeClock(at(0))
	c := NewSessionCache(path, WithClock(clock.Now))

	if got := c.Get(ldapKey()); got != nil {
		t.Errorf("Get() on a missing file = %+v, want nil", got)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("Get() on a missing file created it (stat error %v)", err)
	}

	c.Put(ldapKey(), &Tokens{Refresh: &RefreshToken{Token: "rt"}})
	clock.Set(at(time.Hour))
	other := ldapKey()
	other.UpstreamProviderName = "corp-oidc"
	if got := c.Get(other); got != nil {
		t.Errorf("Get(other IdP) = %+v, want nil", got)
	}
	if got := c.Get(ldapKey()); got == nil || got.Refresh == nil || got.Refresh.Token != "rt" {
		t.Errorf("Get() = %+v, want the refresh token", got)
	}
	if got := decodeSessions(t, path).Sessions[0].LastUsedTimestamp.Time; !got.Equal(at(time.Hour)) {
		t.Errorf("lastUsedTimestamp = %s, want %s", got, at(time.Hour))
	}
}

func TestSessionCacheDeleteAndKeys(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sessions.yaml")
	clock := newFakeClock(at(0))
	c := NewSessionCache(path, WithClock(clock.Now))
	if got := c.Delete(func(SessionKey) bool { return true }); got != 0 {
		t.Errorf("Delete() on a missing file = %d, want 0", got)
	}
	if got := c.Keys(); got != nil {
		t.Errorf("Keys() on a missing file = %v, want nil", got)
	}

	keys := []SessionKey{
		{Issuer: "https://a.example.com", ClientID: "pinniped-cli", Scopes: []string{"openid"}, RedirectURI: "r"},
		{Issuer: "https://b.example.com", ClientID: "pinniped-cli", Scopes: []string{"openid"}, RedirectURI: "r"},
		{Issuer: "https://a.example.com", ClientID: "pinniped-cli", Scopes: []string{"openid"}, RedirectURI: "r",
			UpstreamProviderName: "gh"},
	}
	for i, k := range keys {
		clock.Set(at(time.Duration(i) * time.Second))
		c.Put(k, &Tokens{Refresh: &RefreshToken{Token: "rt"}})
	}
	if diff := cmp.Diff(keys, c.Keys()); diff != "" {
		t.Errorf("Keys() (-want +got):\n%s", diff)
	}

	got := c.Delete(func(k SessionKey) bool { return k.Issuer == "https://a.example.com" })
	if got != 2 {
		t.Errorf("Delete() = %d, want 2", got)
	}
	if diff := cmp.Diff(keys[1:2], c.Keys()); diff != "" {
		t.Errorf("Keys() after Delete (-want +got):\n%s", diff)
	}
	if got := c.Delete(nil); got != 0 {
		t.Errorf("Delete(nil) = %d, want 0", got)
	}
}

func TestSessionCacheNormalize(t *testing.T) {
	t.Parallel()
	now := at(0)
	live := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(d)) }
	entry := func(issuer string, created, used time.Duration, tok storedTokens) sessionEntry {
		return sessionEntry{Key: SessionKey{Issuer: issuer}, CreationTimestamp: live(created),
			LastUsedTimestamp: live(used), Tokens: tok}
	}
	refresh := storedTokens{Refresh: &RefreshToken{Token: "rt"}}
	const day = 24 * time.Hour

	tests := []struct {
		name string
		in   []sessionEntry
		want []sessionEntry
	}{
		{
			name: "expired and empty tokens are dropped, live ones kept",
			in: []sessionEntry{entry("a", 0, 0, storedTokens{
				Access:  &storedAccessToken{Token: "at", Expiry: live(-time.Second)},
				Refresh: &RefreshToken{Token: "rt"},
				ID:      &storedIDToken{Token: "", Expiry: live(time.Hour)},
			}), entry("b", 0, 0, storedTokens{
				Access:  &storedAccessToken{Token: "", Expiry: live(time.Hour)},
				Refresh: &RefreshToken{Token: ""},
				ID:      &storedIDToken{Token: "id", Expiry: live(0)},
			}), entry("c", 0, 0, storedTokens{
				Access: &storedAccessToken{Token: "at"},
				ID:     &storedIDToken{Token: "id", Expiry: live(-time.Second)},
			})},
			want: []sessionEntry{
				entry("a", 0, 0, storedTokens{Refresh: &RefreshToken{Token: "rt"}}),
				entry("b", 0, 0, storedTokens{ID: &storedIDToken{Token: "id", Expiry: live(0)}}),
			},
		},
		{
			name: "entries unused for more than 90 days are removed",
			in: []sessionEntry{
				entry("old", -100*day, -90*day-time.Second, refresh),
				entry("edge", -100*day, -90*day, refresh),
			},
			want: []sessionEntry{entry("edge", -100*day, -90*day, refresh)},
		},
		{
			name: "sorted by creationTimestamp, stable for ties",
			in: []sessionEntry{
				entry("c", -time.Hour, 0, refresh),
				entry("a", -2*time.Hour, 0, refresh),
				entry("b", -time.Hour, 0, refresh),
			},
			want: []sessionEntry{
				entry("a", -2*time.Hour, 0, refresh),
				entry("c", -time.Hour, 0, refresh),
				entry("b", -time.Hour, 0, refresh),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "sessions.yaml")
			encodeSessions(t, path, tt.in)
			NewSessionCache(path, WithClock(func() time.Time { return now })).Keys()
			if diff := cmp.Diff(tt.want, decodeSessions(t, path).Sessions, equalMetaTimes()); diff != "" {
				t.Errorf("sessions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSessionCachePutDropsDeadTokens(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sessions.yaml")
	c := NewSessionCache(path, WithClock(func() time.Time { return at(0) }))
	c.Put(ldapKey(), &Tokens{Refresh: &RefreshToken{Token: "rt"}})
	c.Put(ldapKey(), &Tokens{Access: &AccessToken{Token: "at", Expiry: at(-time.Minute)}})
	if got := c.Get(ldapKey()); got != nil {
		t.Errorf("Get() after Put of only expired tokens = %+v, want nil", got)
	}
	c.Put(ldapKey(), nil)
	if !strings.Contains(readFile(t, path), "sessions: []") {
		t.Errorf("file after Put(nil) = %q, want no sessions", readFile(t, path))
	}
}

func encodeSessions(t *testing.T, path string, entries []sessionEntry) {
	t.Helper()
	b, err := yaml.Marshal(&sessionFile{
		TypeMeta: metav1.TypeMeta{APIVersion: apiVersion, Kind: sessionKind},
		Sessions: entries,
	})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(b))
}

func decodeSessions(t *testing.T, path string) *sessionFile {
	t.Helper()
	f, err := decode[sessionFile]([]byte(readFile(t, path)))
	if err != nil {
		t.Fatal(err)
	}
	return f
}
