// SPDX-License-Identifier: Apache-2.0

package sessionstore

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// idLength and idAlphabet describe Session.ID: 26 characters of lower-case base32
// (RFC 4648 alphabet, no padding), 130 bits of which the caller fills 128.
const (
	idLength   = 26
	idAlphabet = "abcdefghijklmnopqrstuvwxyz234567"
)

// validateID rejects IDs that are not 26 characters of lower-case base32. Stores check
// it on Create so that every ID fits in a Kubernetes object name and label value, and
// so that an ID can never address anything but a session (no "/", no "..").
func validateID(id string) error {
	if len(id) != idLength {
		return fmt.Errorf("invalid session ID %q: want %d characters, got %d", id, idLength, len(id))
	}
	for i := range len(id) {
		if strings.IndexByte(idAlphabet, id[i]) < 0 {
			return fmt.Errorf("invalid session ID %q: want lower-case base32", id)
		}
	}
	return nil
}

// normalize returns a deep copy of s in the form every store keeps and returns:
// empty slices, maps and byte slices become nil (callers must not tell nil from
// empty), and AdditionalClaims take the shape encoding/json gives them (numbers are
// float64, arrays []any, objects map[string]any), so that the memory and the Secret
// store return exactly the same values. Claims that encoding/json cannot encode are an
// error.
func normalize(s *Session) (*Session, error) {
	if field := invalidUTF8(s); field != "" {
		// encoding/json would turn the invalid bytes into U+FFFD in the Secret store
		// only: the two stores would disagree, and a refresh would see a new identity.
		return nil, fmt.Errorf("session field %s is not valid UTF-8", field)
	}
	claims, err := normalizeClaims(s.AdditionalClaims)
	if err != nil {
		return nil, err
	}
	c := clone(s)
	c.AdditionalClaims = claims
	return c, nil
}

// invalidUTF8 names the first string field of s that is not valid UTF-8, or "".
func invalidUTF8(s *Session) string {
	fields := []struct {
		name  string
		value []string
	}{
		{"issuer", []string{s.Issuer}}, {"clientID", []string{s.ClientID}}, {"grantedScopes", s.GrantedScopes},
		{"redirectURI", []string{s.RedirectURI}}, {"nonce", []string{s.Nonce}}, {"codeChallenge", []string{s.CodeChallenge}},
		{"idp", []string{s.IdP.DisplayName, s.IdP.Type, s.IdP.Kind, s.IdP.Name, s.IdP.UID}},
		{"subject", []string{s.Subject}}, {"username", []string{s.Username}}, {"groups", s.Groups},
		{"upstreamUsername", []string{s.UpstreamUsername}}, {"upstreamGroups", s.UpstreamGroups},
		{"upstreamSubject", []string{s.UpstreamSubject}},
	}
	for _, f := range fields {
		for _, v := range f.value {
			if !utf8.ValidString(v) {
				return f.name
			}
		}
	}
	return ""
}

func normalizeClaims(claims map[string]any) (map[string]any, error) {
	if len(claims) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return nil, fmt.Errorf("encode additional claims: %w", err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode additional claims: %w", err)
	}
	return out, nil
}

// clone deep-copies s: the copy shares no slice, map or byte slice with s. Empty
// slices and maps become nil. AdditionalClaims are expected in normalized (JSON) shape;
// values of other types are copied shallowly.
func clone(s *Session) *Session {
	c := *s
	c.GrantedScopes = cloneSlice(s.GrantedScopes)
	c.Groups = cloneSlice(s.Groups)
	c.UpstreamGroups = cloneSlice(s.UpstreamGroups)
	c.AdditionalClaims = cloneClaims(s.AdditionalClaims)
	c.UpstreamData = cloneSlice(s.UpstreamData)
	c.Code = cloneTokenPtr(s.Code)
	c.RefreshToken = cloneTokenPtr(s.RefreshToken)
	if s.DeviceGrant != nil {
		g := *s.DeviceGrant
		g.CodeHash = cloneSlice(g.CodeHash)
		c.DeviceGrant = &g
	}
	if len(s.AccessTokens) == 0 {
		c.AccessTokens = nil
	} else {
		c.AccessTokens = make([]Token, len(s.AccessTokens))
		for i := range s.AccessTokens {
			c.AccessTokens[i] = cloneToken(s.AccessTokens[i])
		}
	}
	if len(s.UsedRefreshTokens) == 0 {
		c.UsedRefreshTokens = nil
	} else {
		// One backing array for all the hashes (a session keeps up to a hundred), each
		// capped at its own length so that appending to one cannot overwrite the next.
		size := 0
		for _, h := range s.UsedRefreshTokens {
			size += len(h)
		}
		backing := make([]byte, 0, size)
		c.UsedRefreshTokens = make([][]byte, len(s.UsedRefreshTokens))
		for i, h := range s.UsedRefreshTokens {
			if len(h) == 0 {
				continue // nil, as cloneSlice gives
			}
			start := len(backing)
			backing = append(backing, h...)
			c.UsedRefreshTokens[i] = backing[start:len(backing):len(backing)]
		}
	}
	return &c
}

// nilEmpty gives a session that shares nothing with anyone (one just decoded) the shape
// clone gives: empty slices and maps become nil. It copies nothing.
func nilEmpty(s *Session) *Session {
	s.GrantedScopes = nilIfEmpty(s.GrantedScopes)
	s.Groups = nilIfEmpty(s.Groups)
	s.UpstreamGroups = nilIfEmpty(s.UpstreamGroups)
	if len(s.AdditionalClaims) == 0 {
		s.AdditionalClaims = nil
	}
	s.UpstreamData = nilIfEmpty(s.UpstreamData)
	for _, t := range []*Token{s.Code, s.RefreshToken} {
		if t != nil {
			t.Hash = nilIfEmpty(t.Hash)
		}
	}
	if s.DeviceGrant != nil {
		s.DeviceGrant.CodeHash = nilIfEmpty(s.DeviceGrant.CodeHash)
	}
	s.AccessTokens = nilIfEmpty(s.AccessTokens)
	for i := range s.AccessTokens {
		s.AccessTokens[i].Hash = nilIfEmpty(s.AccessTokens[i].Hash)
	}
	s.UsedRefreshTokens = nilIfEmpty(s.UsedRefreshTokens)
	for i := range s.UsedRefreshTokens {
		s.UsedRefreshTokens[i] = nilIfEmpty(s.UsedRefreshTokens[i])
	}
	return s
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func cloneSlice[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func cloneToken(t Token) Token {
	t.Hash = cloneSlice(t.Hash)
	return t
}

func cloneTokenPtr(t *Token) *Token {
	if t == nil {
		return nil
	}
	c := cloneToken(*t)
	return &c
}

func cloneClaims(claims map[string]any) map[string]any {
	if len(claims) == 0 {
		return nil
	}
	out := make(map[string]any, len(claims))
	for k, v := range claims {
		out[k] = cloneJSONValue(v)
	}
	return out
}

// cloneJSONValue deep-copies the containers encoding/json produces; the other values
// it produces (string, float64, bool, nil) are immutable.
func cloneJSONValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := maps.Clone(v)
		for k, e := range out {
			out[k] = cloneJSONValue(e)
		}
		return out
	case []any:
		out := slices.Clone(v)
		for i, e := range out {
			out[i] = cloneJSONValue(e)
		}
		return out
	default:
		return v
	}
}

// matches reports whether s passes the filters of opts.
func matches(s *Session, opts ListOptions) bool {
	if opts.Issuer != "" && s.Issuer != opts.Issuer {
		return false
	}
	if opts.Username != "" && s.Username != opts.Username {
		return false
	}
	if !opts.ExpiredBefore.IsZero() && !s.Expires.Before(opts.ExpiredBefore) {
		return false
	}
	return true
}
