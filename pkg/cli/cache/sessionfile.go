// SPDX-License-Identifier: Apache-2.0

package cache

import (
	"maps"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// sessionKind is the kind of the session cache file.
	sessionKind = "SessionCache"

	// sessionMaxIdle is how long an entry may go unused before it is pruned (§3.6).
	sessionMaxIdle = 90 * 24 * time.Hour
)

// The types below mirror the reference CLI's filesession and oidctypes types field for
// field; metav1.Time gives the same RFC 3339 second-precision UTC timestamps (and null
// for a zero time).
type (
	sessionFile struct {
		metav1.TypeMeta `json:",inline"`
		Sessions        []sessionEntry `json:"sessions"`
	}

	sessionEntry struct {
		Key               SessionKey   `json:"key"`
		CreationTimestamp metav1.Time  `json:"creationTimestamp"`
		LastUsedTimestamp metav1.Time  `json:"lastUsedTimestamp"`
		Tokens            storedTokens `json:"tokens"`
	}

	storedTokens struct {
		Access  *storedAccessToken `json:"access,omitempty"`
		Refresh *RefreshToken      `json:"refresh,omitempty"`
		ID      *storedIDToken     `json:"id,omitempty"`
	}

	storedAccessToken struct {
		Token  string      `json:"token"`
		Type   string      `json:"type,omitempty"`
		Expiry metav1.Time `json:"expiryTimestamp"`
	}

	storedIDToken struct {
		Token  string         `json:"token"`
		Expiry metav1.Time    `json:"expiryTimestamp"`
		Claims map[string]any `json:"claims,omitempty"`
	}
)

func (f *sessionFile) meta() *metav1.TypeMeta { return &f.TypeMeta }

func (*sessionFile) kind() string { return sessionKind }

// normalize drops empty or expired ID and access tokens and empty refresh tokens, then
// entries without tokens or unused for sessionMaxIdle, and sorts the rest by creation.
// Boundaries follow the reference CLI: a token expiring exactly now is kept.
func (f *sessionFile) normalize(now time.Time) {
	cutoff := now.Add(-sessionMaxIdle)
	kept := make([]sessionEntry, 0, len(f.Sessions))
	for _, e := range f.Sessions {
		t := &e.Tokens
		if t.ID != nil && (t.ID.Token == "" || t.ID.Expiry.Time.Before(now)) {
			t.ID = nil
		}
		if t.Access != nil && (t.Access.Token == "" || t.Access.Expiry.Time.Before(now)) {
			t.Access = nil
		}
		if t.Refresh != nil && t.Refresh.Token == "" {
			t.Refresh = nil
		}
		if t.ID == nil && t.Access == nil && t.Refresh == nil {
			continue
		}
		if e.LastUsedTimestamp.Time.Before(cutoff) {
			continue
		}
		kept = append(kept, e)
	}
	slices.SortStableFunc(kept, func(a, b sessionEntry) int {
		return a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time)
	})
	f.Sessions = kept
}

// lookup returns the first entry for key, or nil.
func (f *sessionFile) lookup(key SessionKey) *sessionEntry {
	for i := range f.Sessions {
		if sameKey(f.Sessions[i].Key, key) {
			return &f.Sessions[i]
		}
	}
	return nil
}

func metaTime(t time.Time) metav1.Time {
	if t.IsZero() {
		return metav1.Time{}
	}
	return metav1.NewTime(t)
}

// storedTokensFrom converts caller tokens to their file form, copying everything.
func storedTokensFrom(t *Tokens) storedTokens {
	var s storedTokens
	if t == nil {
		return s
	}
	if t.Access != nil {
		s.Access = &storedAccessToken{Token: t.Access.Token, Type: t.Access.Type, Expiry: metaTime(t.Access.Expiry)}
	}
	if t.Refresh != nil {
		s.Refresh = &RefreshToken{Token: t.Refresh.Token}
	}
	if t.ID != nil {
		s.ID = &storedIDToken{Token: t.ID.Token, Expiry: metaTime(t.ID.Expiry), Claims: maps.Clone(t.ID.Claims)}
	}
	return s
}

// public converts stored tokens to the caller's form, with times in UTC.
func (s storedTokens) public() *Tokens {
	t := &Tokens{}
	if s.Access != nil {
		t.Access = &AccessToken{Token: s.Access.Token, Type: s.Access.Type, Expiry: s.Access.Expiry.UTC()}
	}
	if s.Refresh != nil {
		t.Refresh = &RefreshToken{Token: s.Refresh.Token}
	}
	if s.ID != nil {
		t.ID = &IDToken{Token: s.ID.Token, Expiry: s.ID.Expiry.UTC(), Claims: s.ID.Claims}
	}
	return t
}
