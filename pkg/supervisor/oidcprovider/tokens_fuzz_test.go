// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"bytes"
	"strings"
	"testing"
)

// fuzzTokenPrefixes are every kind of opaque token.
var fuzzTokenPrefixes = []string{prefixCode, prefixAccess, prefixRefresh, prefixDeviceCode}

// fuzzTokenKey is the fixed token key of FuzzTokenParse, so that the minted seeds in
// testdata parse.
var fuzzTokenKey = []byte(strings.Repeat("k", 32))

// canonicalToken reports whether token is spelled exactly as mint spells a token of
// kind prefix for sid with secret: the prefix, 26 lower-case base32 characters, a dot
// and the strict unpadded base64url of 40 bytes.
func canonicalToken(prefix, token, sid, secret string) bool {
	raw, err := secretEncoding.DecodeString(secret)
	return err == nil && len(raw) == secretBytes+tagBytes && secretEncoding.EncodeToString(raw) == secret &&
		len(sid) == 26 && strings.Trim(sid, "abcdefghijklmnopqrstuvwxyz234567") == "" &&
		token == prefix+sid+"."+secret
}

// padTo returns b cut or zero-padded to n bytes.
func padTo(b []byte, n int) []byte {
	out := make([]byte, n)
	copy(out, b)
	return out
}

// FuzzTokenParse checks the parsing of opaque tokens (codes, access, refresh and device
// codes), which runs on every token a client presents, before any session is read.
//
// Properties:
//   - parse never panics, whatever the token;
//   - a token parse accepts is spelled exactly as mint spells one (prefix, session ID,
//     dot, canonical secret): a forged or re-spelled token must be refused before it
//     costs a session read;
//   - a minted token (fuzzed session ID and random part) parses back to its session ID
//     and secret, and its secret matches the stored hash;
//   - a minted token is refused as another kind of token, under another token key, and
//     with any single byte changed or inserted, which protects against forgery and
//     against a token of one kind standing in for another.
func FuzzTokenParse(f *testing.F) {
	m := tokenMinter{key: fuzzTokenKey}
	f.Add(prefixRefresh+strings.Repeat("a", 26)+".x", []byte("session-id-bytes"), []byte("random"), uint8(2), uint16(0), byte('A'), false)
	f.Add(prefixAccess+"abcdefghijklmnopqrstuvwxyz.AAAA", []byte{}, []byte{}, uint8(1), uint16(40), byte('.'), true)
	f.Add("sel_ac_", []byte{0xff}, bytes.Repeat([]byte{0xff}, 32), uint8(0), uint16(7), byte('\n'), true)
	f.Add(prefixDeviceCode+strings.Repeat("7", 26)+"."+strings.Repeat("A", 54), []byte("0123456789abcdef"), []byte("x"), uint8(3), uint16(65535), byte(0), false)
	f.Add(prefixRefresh+strings.Repeat("A", 26)+"."+strings.Repeat("_", 54), []byte("a"), []byte("b"), uint8(2), uint16(30), byte('='), true)
	f.Add(strings.Repeat("x", 300), []byte(nil), []byte(nil), uint8(9), uint16(3), byte('2'), false)
	f.Fuzz(func(t *testing.T, token string, sidBytes, random []byte, kind uint8, pos uint16, b byte, insert bool) {
		// Arbitrary tokens.
		for _, prefix := range fuzzTokenPrefixes {
			sid, secret, ok := m.parse(prefix, token)
			if !ok {
				if sid != "" || secret != "" {
					t.Errorf("parse(%q) refused the token but returned %q, %q", prefix, sid, secret)
				}
				continue
			}
			if !canonicalToken(prefix, token, sid, secret) {
				t.Errorf("parse(%q) accepted %q as session %q, secret %q: not spelled as mint spells a token", prefix, token, sid, secret)
			}
		}

		// Minted tokens.
		prefix := fuzzTokenPrefixes[int(kind)%len(fuzzTokenPrefixes)]
		sid, err := newSessionID(bytes.NewReader(padTo(sidBytes, 16)))
		if err != nil {
			t.Fatal(err)
		}
		minter := tokenMinter{key: fuzzTokenKey, random: bytes.NewReader(padTo(random, secretBytes))}
		minted, hash, err := minter.mint(prefix, sid)
		if err != nil {
			t.Fatal(err)
		}
		gotSID, secret, ok := m.parse(prefix, minted)
		if !ok || gotSID != sid || minted != prefix+sid+"."+secret || !canonicalToken(prefix, minted, sid, secret) {
			t.Fatalf("minted token %q parsed as %q, %q, %v; want session %q", minted, gotSID, secret, ok, sid)
		}
		if !m.matches(secret, hash) {
			t.Error("the secret of a minted token does not match its hash")
		}
		for _, other := range fuzzTokenPrefixes {
			if other == prefix {
				continue
			}
			if _, _, ok := m.parse(other, other+strings.TrimPrefix(minted, prefix)); ok {
				t.Errorf("a %q token was accepted as a %q token", prefix, other)
			}
		}
		if _, _, ok := (tokenMinter{key: []byte(strings.Repeat("K", 32))}).parse(prefix, minted); ok {
			t.Error("a token minted with one key parsed with another")
		}

		// One byte changed or inserted.
		edited := []byte(minted)
		i := int(pos) % (len(edited) + 1)
		switch {
		case insert:
			edited = append(edited[:i:i], append([]byte{b}, edited[i:]...)...)
		case i < len(edited):
			edited[i] = b
		}
		if string(edited) != minted {
			if s, sec, ok := m.parse(prefix, string(edited)); ok {
				t.Errorf("token %q, an edit of minted %q, was accepted (session %q, secret %q)", edited, minted, s, sec)
			}
		}
	})
}
