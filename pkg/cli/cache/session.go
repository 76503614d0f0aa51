// SPDX-License-Identifier: Apache-2.0

package cache

import (
	"slices"
	"time"
)

// SessionKey selects a session cache entry (docs/wire-contract.md §3.5 step 2). Its YAML form is
// the reference CLI's oidcclient.SessionCacheKey.
type SessionKey struct {
	// Issuer is the FederationDomain issuer URL.
	Issuer string `json:"issuer"`
	// ClientID is the OAuth client ID, usually pinniped-cli.
	ClientID string `json:"clientID"`
	// Scopes are the requested scopes. They are stored sorted and compared regardless
	// of order.
	Scopes []string `json:"scopes"`
	// RedirectURI is http://localhost:<listen-port|0>/callback.
	RedirectURI string `json:"redirect_uri"`
	// UpstreamProviderName is the upstream IdP name, empty when none was selected.
	UpstreamProviderName string `json:"upstream_provider_name,omitempty"`
}

// Tokens are the tokens of one session. Any of them may be nil.
type Tokens struct {
	// Access is the supervisor access token.
	Access *AccessToken `json:"access,omitempty"`
	// Refresh is the supervisor refresh token.
	Refresh *RefreshToken `json:"refresh,omitempty"`
	// ID is the ID token.
	ID *IDToken `json:"id,omitempty"`
}

// AccessToken is an OAuth 2.0 access token. The file keeps Expiry with one-second
// precision, in UTC.
type AccessToken struct {
	// Token is the access token itself.
	Token string `json:"token"`
	// Type is the token type, e.g. "bearer".
	Type string `json:"type,omitempty"`
	// Expiry is when the token expires; a zero Expiry counts as expired.
	Expiry time.Time `json:"expiryTimestamp"`
}

// RefreshToken is an OAuth 2.0 refresh token.
type RefreshToken struct {
	// Token is the refresh token itself.
	Token string `json:"token"`
}

// IDToken is an OpenID Connect ID token with its decoded claims. The file keeps Expiry
// with one-second precision, in UTC.
type IDToken struct {
	// Token is the compact JWS.
	Token string `json:"token"`
	// Expiry is when the token expires; a zero Expiry counts as expired.
	Expiry time.Time `json:"expiryTimestamp"`
	// Claims are the token's claims as decoded from JSON.
	Claims map[string]any `json:"claims,omitempty"`
}

// SessionCache is the YAML session cache file (docs/wire-contract.md §3.6). It is safe for
// concurrent use by several goroutines and processes; each call locks the file.
type SessionCache struct {
	s store
}

// NewSessionCache returns the session cache stored at path. Nothing is touched on disk
// until the first call.
func NewSessionCache(path string, opts ...Option) *SessionCache {
	return &SessionCache{s: store{path: path, opts: newOptions(opts)}}
}

// Get returns the unexpired tokens cached for key and marks the entry as used, or nil
// when there are none (including when the file cannot be locked or read). Expired
// tokens are never returned; whether the rest are fresh enough is the caller's choice.
func (c *SessionCache) Get(key SessionKey) *Tokens {
	var result *Tokens
	update(&c.s, false, func(f *sessionFile, now time.Time) {
		if e := f.lookup(key); e != nil {
			result = e.Tokens.public()
			e.LastUsedTimestamp = metaTime(now)
		}
	})
	return result
}

// Put stores t for key, replacing the tokens of an existing entry (which keeps its
// creationTimestamp) or creating an entry. Expired or empty tokens are not stored, so
// Put with nil or only such tokens removes the entry.
func (c *SessionCache) Put(key SessionKey, t *Tokens) {
	key = normalizeKey(key)
	update(&c.s, true, func(f *sessionFile, now time.Time) {
		stored := storedTokensFrom(t)
		if e := f.lookup(key); e != nil {
			e.Tokens = stored
			e.LastUsedTimestamp = metaTime(now)
			return
		}
		f.Sessions = append(f.Sessions, sessionEntry{
			Key:               key,
			CreationTimestamp: metaTime(now),
			LastUsedTimestamp: metaTime(now),
			Tokens:            stored,
		})
	})
}

// Delete removes every entry whose key satisfies match (used by logout) and returns how
// many it removed.
func (c *SessionCache) Delete(match func(SessionKey) bool) int {
	if match == nil {
		return 0
	}
	removed := 0
	update(&c.s, false, func(f *sessionFile, _ time.Time) {
		before := len(f.Sessions)
		f.Sessions = slices.DeleteFunc(f.Sessions, func(e sessionEntry) bool { return match(e.Key) })
		removed = before - len(f.Sessions)
	})
	return removed
}

// Keys returns the keys of all live entries, oldest first.
func (c *SessionCache) Keys() []SessionKey {
	var keys []SessionKey
	update(&c.s, false, func(f *sessionFile, _ time.Time) {
		keys = make([]SessionKey, 0, len(f.Sessions))
		for _, e := range f.Sessions {
			keys = append(keys, normalizeKey(e.Key))
		}
	})
	return keys
}

// normalizeKey returns key with a sorted copy of its scopes (nil stays nil and empty
// stays empty, so the YAML is null or [] as the caller's value would encode).
func normalizeKey(key SessionKey) SessionKey {
	key.Scopes = slices.Clone(key.Scopes)
	slices.Sort(key.Scopes)
	return key
}

// sameKey reports whether a and b select the same session, ignoring scope order.
func sameKey(a, b SessionKey) bool {
	return a.Issuer == b.Issuer && a.ClientID == b.ClientID && a.RedirectURI == b.RedirectURI &&
		a.UpstreamProviderName == b.UpstreamProviderName &&
		slices.Equal(normalizeKey(a).Scopes, normalizeKey(b).Scopes)
}
