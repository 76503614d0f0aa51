// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
)

// countingStore counts session reads.
type countingStore struct {
	sessionstore.Store
	gets atomic.Int32
}

func (s *countingStore) Get(ctx context.Context, id string) (*sessionstore.Session, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, id)
}

// TestForgedTokensCostNoSessionRead sends tokens of the right shape that the supervisor
// did not mint: each must be refused without reading a session, so that a flood of them
// costs the API server nothing.
func TestForgedTokensCostNoSessionRead(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvider(t)
	store := &countingStore{Store: p.cfg.Store}
	p.cfg.Store = store
	tokens := passwordLogin(t, p)
	rt, at := tokens["refresh_token"].(string), tokens["access_token"].(string)
	sid, realSecret, _ := strings.Cut(strings.TrimPrefix(rt, prefixRefresh), ".")
	_, accessSecret, _ := strings.Cut(strings.TrimPrefix(at, prefixAccess), ".")
	madeUp := base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("x", len(realSecret)*3/4)))
	forged := map[string]string{
		"made-up secret for a live session":        prefixRefresh + sid + "." + madeUp,
		"made-up secret for a made-up session":     prefixRefresh + strings.Repeat("a", 26) + "." + madeUp,
		"the access token's secret as refresh":     prefixRefresh + sid + "." + accessSecret,
		"the real secret for another session":      prefixRefresh + strings.Repeat("b", 26) + "." + realSecret,
		"the real secret, last character changed":  prefixRefresh + sid + "." + realSecret[:len(realSecret)-1] + flip(realSecret[len(realSecret)-1]),
		"the real secret, shorter":                 prefixRefresh + sid + "." + realSecret[:len(realSecret)-4],
		"the real secret with a non-canonical end": prefixRefresh + sid + "." + realSecret + "A",
	}
	before := store.gets.Load()
	for name, token := range forged {
		status, body := doToken(p, url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {token}, "client_id": {CLIClientID}})
		if status != http.StatusBadRequest || body["error"] != errInvalidGrant {
			t.Errorf("%s: %d %v, want 400 invalid_grant", name, status, body)
		}
	}
	if n := store.gets.Load() - before; n != 0 {
		t.Errorf("forged tokens cost %d session reads, want 0", n)
	}
	if status, body := doToken(p, url.Values{"grant_type": {GrantRefreshToken}, "refresh_token": {rt}, "client_id": {CLIClientID}}); status != http.StatusOK {
		t.Errorf("the real refresh token: %d %v", status, body)
	}
}

// flip returns another base64url character than c.
func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// TestEncodingsHaveOneSpelling: a token or a state accepted in a second spelling (a line
// break, which encoding/base64 skips; other padding bits) could slip past checks that
// compare spellings, such as the read-free token tag.
func TestEncodingsHaveOneSpelling(t *testing.T) {
	t.Parallel()
	p, _ := newTestProvider(t)
	token, _, err := p.tokens.mint(prefixRefresh, strings.Repeat("a", 26))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := p.tokens.parse(prefixRefresh, token); !ok {
		t.Fatal("a minted token was refused")
	}
	dot := strings.IndexByte(token, '.')
	for _, bad := range []string{token[:dot+3] + "\n" + token[dot+3:], token[:dot+3] + "\r" + token[dot+3:]} {
		if _, _, ok := p.tokens.parse(prefixRefresh, bad); ok {
			t.Errorf("token with a line break accepted: %q", bad)
		}
	}
	state, err := p.state.encode("test", map[string]string{"a": "b"}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]string
	if err := p.state.decode("test", state, time.Now(), &v); err != nil {
		t.Fatal(err)
	}
	body, sig, _ := strings.Cut(state, ".")
	last := sig[len(sig)-1]
	// The last character of a 32-byte MAC carries 4 padding bits: flipping one keeps the
	// bytes a lenient decoder reads.
	other := string(base64URLAlphabet[(strings.IndexByte(base64URLAlphabet, last)^1)%64])
	for name, bad := range map[string]string{
		"line break in the signature": body + "." + sig[:4] + "\n" + sig[4:],
		"line break in the body":      body[:4] + "\n" + body[4:] + "." + sig,
		"other padding bits":          body + "." + sig[:len(sig)-1] + other,
	} {
		if err := p.state.decode("test", bad, time.Now(), &v); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
