// SPDX-License-Identifier: Apache-2.0

// Package ratelimit limits requests per key (a client address, a username) with token
// buckets, keeping a bounded number of keys in memory. It is what the supervisor puts in
// front of its unauthenticated and password-taking endpoints.
//
// Each replica limits on its own: with N replicas behind a load balancer a key gets up to
// N times the rate, which the defaults allow for.
package ratelimit

import (
	"container/list"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys bounds the keys a Limiter remembers. When it is full the key used least
// recently is forgotten (its bucket refills), so memory stays bounded under a flood of
// distinct keys.
const DefaultMaxKeys = 100_000

// Rule is a token bucket: Burst requests at once, refilled at PerMinute.
type Rule struct {
	PerMinute float64
	Burst     int
}

// Disabled reports whether the rule limits nothing (zero rate or burst).
func (r Rule) Disabled() bool { return r.PerMinute <= 0 || r.Burst <= 0 }

// String is the rule as the flags spell it: "<per minute>/<burst>", or "0".
func (r Rule) String() string {
	if r.Disabled() {
		return "0"
	}
	return strconv.FormatFloat(r.PerMinute, 'f', -1, 64) + "/" + strconv.Itoa(r.Burst)
}

// ParseRule reads "<per minute>/<burst>", or "0" (no limit).
func ParseRule(s string) (Rule, error) {
	if s == "0" {
		return Rule{}, nil
	}
	perMin, burst, ok := cutRule(s)
	if !ok {
		return Rule{}, fmt.Errorf("rate limit %q: want <requests per minute>/<burst>, for instance 60/20, or 0 for none", s)
	}
	r := Rule{PerMinute: perMin, Burst: burst}
	if r.Disabled() || math.IsInf(perMin, 0) || math.IsNaN(perMin) {
		return Rule{}, fmt.Errorf("rate limit %q: rate and burst must be positive (0 alone disables the limit)", s)
	}
	return r, nil
}

func cutRule(s string) (float64, int, bool) {
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, false
	}
	perMin, err1 := strconv.ParseFloat(a, 64)
	burst, err2 := strconv.Atoi(b)
	return perMin, burst, err1 == nil && err2 == nil
}

// Limiter applies one Rule per key. The zero value is not usable; use New. A nil
// *Limiter allows everything.
type Limiter struct {
	rule    Rule
	maxKeys int
	clock   func() time.Time

	mu   sync.Mutex
	keys map[string]*list.Element
	lru  *list.List // of *entry, most recently used first
}

type entry struct {
	key     string
	limiter *rate.Limiter
}

// New returns a Limiter for rule, or nil when the rule is disabled. maxKeys <= 0 means
// DefaultMaxKeys; a nil now means time.Now.
func New(rule Rule, maxKeys int, now func() time.Time) *Limiter {
	if rule.Disabled() {
		return nil
	}
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{rule: rule, maxKeys: maxKeys, clock: now, keys: map[string]*list.Element{}, lru: list.New()}
}

func (l *Limiter) bucket(key string) *rate.Limiter {
	if el, ok := l.keys[key]; ok {
		l.lru.MoveToFront(el)
		return el.Value.(*entry).limiter
	}
	if l.lru.Len() >= l.maxKeys {
		oldest := l.lru.Back()
		l.lru.Remove(oldest)
		delete(l.keys, oldest.Value.(*entry).key)
	}
	e := &entry{key: key, limiter: rate.NewLimiter(rate.Limit(l.rule.PerMinute/60), l.rule.Burst)}
	l.keys[key] = l.lru.PushFront(e)
	return e.limiter
}

// Allow takes a token for key. When there is none it takes nothing and returns false
// and how long until one is available.
func (l *Limiter) Allow(key string) (bool, time.Duration) { return l.token(key, true) }

// Check reports whether key has a token, without taking it: for limits that count only
// failures (Check before the attempt, Fail after a failed one). Concurrent attempts for
// one key may each pass Check for the same token before the first Fail: the limit lets
// through at most that many more per refill.
func (l *Limiter) Check(key string) (bool, time.Duration) { return l.token(key, false) }

// token reports whether key has a token, taking it when take is set, or how long until
// one is available.
func (l *Limiter) token(key string, take bool) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key)
	now := l.clock()
	if (take && b.AllowN(now, 1)) || (!take && b.TokensAt(now) >= 1) {
		return true, 0
	}
	return false, l.wait(b, now)
}

// Fail takes a token for key, if there is one: a failed attempt.
func (l *Limiter) Fail(key string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bucket(key).AllowN(l.clock(), 1)
}

// wait is how long until b has a token again.
func (l *Limiter) wait(b *rate.Limiter, now time.Time) time.Duration {
	missing := 1 - b.TokensAt(now)
	return time.Duration(missing / (l.rule.PerMinute / 60) * float64(time.Second))
}

// Len is how many keys the Limiter remembers.
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// RetryAfter is the value of a Retry-After header for a wait: whole seconds, at least 1.
func RetryAfter(wait time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(wait.Seconds()))))
}

// Reject answers 429 Too Many Requests with Retry-After and an OAuth-style JSON error
// body, which the CLI and browsers both understand.
func Reject(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", RetryAfter(wait))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write([]byte(`{"error":"too_many_requests","error_description":"too many requests: try again later"}` + "\n"))
}

// ClientAddress finds the address to limit a request by. It is the connection's peer
// unless that peer is in trusted (a load balancer or ingress that terminates the
// connection), in which case it is the right-most address of X-Forwarded-For that is not
// trusted. IPv6 addresses are reduced to their /64, which one host usually owns whole.
type ClientAddress struct {
	Trusted []netip.Prefix
}

// Of returns the client address of r as a key.
func (c ClientAddress) Of(r *http.Request) string {
	peer := addrOf(r.RemoteAddr)
	if !peer.IsValid() {
		return r.RemoteAddr
	}
	if !c.trusts(peer) {
		return key(peer)
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := splitComma(hops[i])
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(parts[j])
			if err != nil {
				return key(peer) // a hop we cannot read: stop at the last one we trust
			}
			a = a.Unmap()
			if !c.trusts(a) {
				return key(a)
			}
			peer = a
		}
	}
	return key(peer)
}

func (c ClientAddress) trusts(a netip.Addr) bool {
	for _, p := range c.Trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func addrOf(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func key(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

func splitComma(s string) []string {
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// ParsePrefixes reads a comma-separated list of CIDRs or addresses.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range splitComma(s) {
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR", part)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// Set parses s into r (flag.Value and pflag.Value).
func (r *Rule) Set(s string) error {
	parsed, err := ParseRule(s)
	if err != nil {
		return err
	}
	*r = parsed
	return nil
}

// Type names the flag value's syntax.
func (*Rule) Type() string { return "perMinute/burst" }
