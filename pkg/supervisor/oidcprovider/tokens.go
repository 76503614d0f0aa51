// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Opaque token prefixes. A token is <prefix><session ID>.<secret>: the session ID finds
// the session, and the keyed hash of the secret must match the one stored there. The
// secret ends in a tag that binds it to the prefix and the session ID under the token
// key, so that a token the supervisor did not mint is refused before any session is read.
const (
	prefixCode    = "sel_ac_"
	prefixAccess  = "sel_at_"
	prefixRefresh = "sel_rt_"
	// prefixDeviceCode names a device authorization's session (RFC 8628).
	prefixDeviceCode = "sel_dc_"
)

// secretBytes is the entropy of a token's secret part; tagBytes follow it.
const (
	secretBytes = 32
	tagBytes    = 8
)

// secretEncoding encodes a token's secret part; Strict refuses a second spelling of the
// same bytes (but not line breaks: see decodeCanonical).
//
//nolint:gochecknoglobals // an immutable encoding.
var secretEncoding = base64.RawURLEncoding.Strict()

// decodeCanonical decodes unpadded base64url that is spelled exactly as the encoder
// spells it. encoding/base64 skips CR and LF even in strict mode, so those are refused
// here: every value the supervisor issues then has one spelling only.
func decodeCanonical(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("line break in base64url")
	}
	return secretEncoding.DecodeString(s)
}

//nolint:gochecknoglobals // an immutable encoding.
var sessionIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newSessionID returns 26 lower-case base32 characters (128 bits).
func newSessionID(random io.Reader) (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(random, b); err != nil {
		return "", fmt.Errorf("generate session ID: %w", err)
	}
	return strings.ToLower(sessionIDEncoding.EncodeToString(b)), nil
}

// tokenMinter makes and checks opaque tokens with the domain's token key.
type tokenMinter struct {
	key    []byte
	random io.Reader
}

// mint returns a new token for the session and the hash to store.
func (m tokenMinter) mint(prefix, sessionID string) (token string, hash []byte, err error) {
	secret := make([]byte, secretBytes, secretBytes+tagBytes)
	if _, err := io.ReadFull(m.random, secret); err != nil {
		return "", nil, fmt.Errorf("generate token: %w", err)
	}
	encoded := secretEncoding.EncodeToString(append(secret, m.tag(prefix, sessionID, secret)...))
	return prefix + sessionID + "." + encoded, m.hash(encoded), nil
}

// tag binds a token's random part to its kind and session under the token key.
func (m tokenMinter) tag(prefix, sessionID string, random []byte) []byte {
	mac := hmac.New(sha256.New, m.key)
	mac.Write([]byte("opaque token tag\x00" + prefix + "\x00" + sessionID + "\x00"))
	mac.Write(random)
	return mac.Sum(nil)[:tagBytes]
}

// hash is the keyed hash of a token's secret part: a stolen session record does not
// yield usable tokens.
func (m tokenMinter) hash(secret string) []byte {
	mac := hmac.New(sha256.New, m.key)
	mac.Write([]byte(secret))
	return mac.Sum(nil)
}

// parse splits a token of the given kind into its session ID and secret part, and checks
// that the supervisor minted it (its tag), without reading anything.
func (m tokenMinter) parse(prefix, token string) (sessionID, secret string, ok bool) {
	rest, ok := strings.CutPrefix(token, prefix)
	if !ok || len(token) > 256 {
		return "", "", false
	}
	sessionID, secret, ok = strings.Cut(rest, ".")
	if !ok || len(sessionID) != 26 || secret == "" {
		return "", "", false
	}
	for _, c := range sessionID {
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return "", "", false
		}
	}
	raw, err := decodeCanonical(secret)
	if err != nil || len(raw) != secretBytes+tagBytes ||
		!hmac.Equal(raw[secretBytes:], m.tag(prefix, sessionID, raw[:secretBytes])) {
		return "", "", false
	}
	return sessionID, secret, true
}

// matches reports whether secret hashes to want, in constant time.
func (m tokenMinter) matches(secret string, want []byte) bool {
	return len(want) > 0 && hmac.Equal(m.hash(secret), want)
}

// fingerprint identifies a token in logs without revealing it.
func randomString(random io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(random, b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
