// SPDX-License-Identifier: Apache-2.0

package ratelimit

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestAllowRefillsAtTheRate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(Rule{PerMinute: 60, Burst: 3}, 0, func() time.Time { return now })
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("after the burst: %t, wait %s; want refused, wait up to 1s", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Error("another key shares the bucket")
	}
	now = now.Add(time.Second)
	if ok, _ := l.Allow("a"); !ok {
		t.Error("no token one second later at 60 per minute")
	}
}

func TestFailuresOnly(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := New(Rule{PerMinute: 1, Burst: 2}, 0, func() time.Time { return now })
	for range 10 {
		if ok, _ := l.Check("alice"); !ok {
			t.Fatal("Check alone took tokens")
		}
	}
	l.Fail("alice")
	l.Fail("alice")
	ok, wait := l.Check("alice")
	if ok || wait < 59*time.Second || wait > time.Minute {
		t.Errorf("after two failures: %t, wait %s; want refused for about a minute", ok, wait)
	}
	if got := RetryAfter(wait); got != "60" {
		t.Errorf("Retry-After %s, want 60", got)
	}
}

func TestKeysAreBounded(t *testing.T) {
	t.Parallel()
	l := New(Rule{PerMinute: 1, Burst: 1}, 100, nil)
	for i := range 1000 {
		l.Allow(fmt.Sprint(i))
	}
	if l.Len() != 100 {
		t.Errorf("remembers %d keys, want at most 100", l.Len())
	}
	// The most recent keys are the ones kept.
	if ok, _ := l.Allow("999"); ok {
		t.Error("the most recent key was forgotten")
	}
}

func TestNilAndDisabled(t *testing.T) {
	t.Parallel()
	var l *Limiter
	if ok, _ := l.Allow("x"); !ok {
		t.Error("a nil limiter refused")
	}
	if New(Rule{}, 0, nil) != nil {
		t.Error("a disabled rule made a limiter")
	}
}

func TestParseRule(t *testing.T) {
	t.Parallel()
	if r, err := ParseRule("30/10"); err != nil || r != (Rule{PerMinute: 30, Burst: 10}) || r.String() != "30/10" {
		t.Errorf("30/10: %+v %v", r, err)
	}
	if r, err := ParseRule("0"); err != nil || !r.Disabled() {
		t.Errorf("0: %+v %v", r, err)
	}
	for _, bad := range []string{"", "30", "x/1", "1/x", "-1/5", "5/0", "NaN/3", "Inf/3"} {
		if _, err := ParseRule(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestClientAddress(t *testing.T) {
	t.Parallel()
	lb := ClientAddress{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	tests := []struct {
		name   string
		c      ClientAddress
		remote string
		xff    []string
		want   string
	}{
		{"direct", ClientAddress{}, "192.0.2.7:5555", nil, "192.0.2.7"},
		{"direct ignores X-Forwarded-For", ClientAddress{}, "192.0.2.7:5555", []string{"198.51.100.1"}, "192.0.2.7"},
		{"IPv6 by /64", ClientAddress{}, "[2001:db8:1:2:3:4:5:6]:443", nil, "2001:db8:1:2::/64"},
		{"IPv4-mapped IPv6", ClientAddress{}, "[::ffff:192.0.2.7]:1", nil, "192.0.2.7"},
		{"behind a trusted balancer", lb, "10.1.2.3:1", []string{"198.51.100.1"}, "198.51.100.1"},
		{"spoofed hops before the real client", lb, "10.1.2.3:1", []string{"203.0.113.66, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted hops", lb, "10.1.2.3:1", []string{"198.51.100.1", "10.9.9.9"}, "198.51.100.1"},
		{"trusted peer without the header", lb, "10.1.2.3:1", nil, "10.1.2.3"},
		{"garbage hop", lb, "10.1.2.3:1", []string{"not-an-ip"}, "10.1.2.3"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tt.remote
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := tt.c.Of(r); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParsePrefixes(t *testing.T) {
	t.Parallel()
	got, err := ParsePrefixes("10.0.0.0/8, 192.0.2.1,fd00::/8")
	if err != nil || len(got) != 3 || got[1].String() != "192.0.2.1/32" {
		t.Errorf("%v %v", got, err)
	}
	if _, err := ParsePrefixes("10.0.0.0/8,nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("bad entry: %v", err)
	}
}

func TestReject(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	Reject(w, 1500*time.Millisecond)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "2" || !strings.Contains(w.Body.String(), "too_many_requests") {
		t.Errorf("%d %v %s", w.Code, w.Header(), w.Body)
	}
}
