// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fuzzStateNow is the fixed clock of FuzzStateDecode, so that the sealed seeds in
// testdata stay unexpired and every run of an input behaves the same.
var fuzzStateNow = time.Unix(1_750_000_000, 0)

// fuzzStateValue has the shapes the provider seals: strings, a number and a list.
type fuzzStateValue struct {
	S string   `json:"s"`
	N int64    `json:"n"`
	L []string `json:"l,omitempty"`
}

// newFuzzStateCodec returns a codec with fixed keys, so that the sealed seeds in
// testdata open.
func newFuzzStateCodec(tb testing.TB, sign, enc byte) *stateCodec {
	tb.Helper()
	c, err := newStateCodec(bytes.Repeat([]byte{sign}, 32), bytes.Repeat([]byte{enc}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// canonicalState reports whether encoded is spelled exactly as encode spells a value
// sealed for purpose: strict base64url body, a dot and the unpadded canonical MAC.
func canonicalState(c *stateCodec, purpose, encoded string) bool {
	body, _, _ := strings.Cut(encoded, ".")
	raw, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil || base64.RawURLEncoding.EncodeToString(raw) != body {
		return false
	}
	return encoded == body+"."+base64.RawURLEncoding.EncodeToString(c.mac(purpose, body))
}

// FuzzStateDecode checks the codec that seals values travelling through the browser
// (the upstream state, the login form state and the CSRF cookie).
//
// Properties:
//   - decode never panics on any purpose and any string;
//   - a string decode accepts is spelled exactly as encode spells it (strict base64url
//     body, canonical MAC), which protects against accepting other spellings of a sealed
//     value than the one the supervisor issued;
//   - a string decode accepts opens under no other purpose and no other keys, which
//     protects against one sealed value standing in for another kind of value;
//   - a refused string leaves the target untouched (no partial result);
//   - encode then decode gives back the value (as JSON carries it), and the encoded value
//     is refused under another purpose, with other keys, after expiry and with any single
//     byte changed, which protects against tampering, confusion of purposes and replay
//     after expiry.
func FuzzStateDecode(f *testing.F) {
	c := newFuzzStateCodec(f, 's', 'e')
	genuine := func(purpose string, v any) string {
		enc, err := c.encode(purpose, v, fuzzStateNow.Add(time.Hour))
		if err != nil {
			f.Fatal(err)
		}
		return enc
	}
	st := genuine(purposeState, fuzzStateValue{S: "state-1234", N: 7, L: []string{"openid"}})
	csrf := genuine(purposeCSRF, "csrf-value")
	f.Add(purposeState, st, purposeCSRF, "state-1234", int64(7), "openid\x00groups", uint16(0), byte('A'))
	f.Add(purposeCSRF, csrf, purposeState, "", int64(0), "", uint16(3), byte('.'))
	f.Add(purposeState, st+"A", purposeLoginState, "x", int64(-1), "a", uint16(400), byte(0))
	f.Add(purposeState, strings.Replace(st, ".", "", 1), purposeDeviceForm, "ü", int64(1)<<62, "\xff", uint16(12), byte('\n'))
	f.Add(purposeLoginState, "not-a-state", purposeState, "{\"json\":true}", int64(42), "a\x00b\x00c", uint16(1), byte('B'))
	f.Add("", ".", "x", "", int64(0), "", uint16(0), byte(0))
	f.Add(purposeState, "eyJ2IjoyfQ.AAAA", "", "s", int64(5), "", uint16(0), byte('='))
	f.Add(purposeState, strings.Repeat("A", 8*maxParamLength+1)+".x", purposeCSRF, "", int64(0), "", uint16(0), byte(0))
	f.Fuzz(func(t *testing.T, purpose, encoded, otherPurpose, s string, n int64, list string, pos uint16, b byte) {
		// Arbitrary input: no panic, only exact spellings of sealed values are accepted,
		// and a refusal leaves the target as it was.
		got := fuzzStateValue{S: "untouched"}
		err := c.decode(purpose, encoded, fuzzStateNow, &got)
		if err != nil {
			if !reflect.DeepEqual(got, fuzzStateValue{S: "untouched"}) {
				t.Errorf("decode refused %q (%v) but changed the target to %+v", encoded, err, got)
			}
			if !errors.Is(err, errStateInvalid) && !errors.Is(err, errStateVersion) && !errors.Is(err, errStateExpired) {
				t.Errorf("decode error %v is none of the codec's errors", err)
			}
		} else {
			if !canonicalState(c, purpose, encoded) {
				t.Errorf("decode accepted %q, which is not spelled as encode spells a value for purpose %q", encoded, purpose)
			}
			if otherPurpose != purpose {
				if c.decode(otherPurpose, encoded, fuzzStateNow, &fuzzStateValue{}) == nil {
					t.Errorf("a value sealed for %q also opens for %q", purpose, otherPurpose)
				}
			}
			other := newFuzzStateCodec(t, 'S', 'e')
			if other.decode(purpose, encoded, fuzzStateNow, &fuzzStateValue{}) == nil {
				t.Errorf("a value sealed with one signing key opens with another")
			}
		}

		// Round trip of a fuzzed value.
		v := fuzzStateValue{S: s, N: n}
		if list != "" {
			v.L = strings.Split(list, "\x00")
		}
		enc, err := c.encode(purpose, v, fuzzStateNow.Add(time.Minute))
		if errors.Is(err, errStateTooLarge) {
			return // encode refuses what decode would refuse: nothing is handed out
		}
		if err != nil {
			t.Fatalf("encode %+v: %v", v, err)
		}
		if !canonicalState(c, purpose, enc) {
			t.Fatalf("encode produced a non-canonical value %q", enc)
		}
		var back fuzzStateValue
		if err := c.decode(purpose, enc, fuzzStateNow, &back); err != nil {
			t.Fatalf("decode of a fresh encoding: %v", err)
		}
		// encoding/json replaces invalid UTF-8 by U+FFFD: that is what JSON can carry,
		// and what the codec must give back.
		want := jsonRoundTrip(t, v)
		if !reflect.DeepEqual(back, want) {
			t.Errorf("round trip: got %+v, want %+v", back, want)
		}
		if otherPurpose != purpose && c.decode(otherPurpose, enc, fuzzStateNow, &fuzzStateValue{}) == nil {
			t.Errorf("a value sealed for %q opens for %q", purpose, otherPurpose)
		}
		if err := c.decode(purpose, enc, fuzzStateNow.Add(time.Minute), &fuzzStateValue{}); !errors.Is(err, errStateExpired) {
			t.Errorf("decode at expiry: %v, want %v", err, errStateExpired)
		}
		if newFuzzStateCodec(t, 's', 'E').decode(purpose, enc, fuzzStateNow, &fuzzStateValue{}) == nil {
			t.Error("a value sealed with one encryption key opens with another")
		}
		// Any single changed byte is refused.
		tampered := []byte(enc)
		i := int(pos) % len(tampered)
		if tampered[i] != b {
			tampered[i] = b
			if err := c.decode(purpose, string(tampered), fuzzStateNow, &fuzzStateValue{}); err == nil {
				t.Errorf("decode accepted %q, %q with byte %d changed to %q", string(tampered), enc, i, b)
			}
		}
	})
}

// jsonRoundTrip returns v as encoding/json gives it back.
func jsonRoundTrip(t *testing.T, v fuzzStateValue) fuzzStateValue {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out fuzzStateValue
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
