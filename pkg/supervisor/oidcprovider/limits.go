// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/selkie-dev/selkie/pkg/ratelimit"
	"github.com/selkie-dev/selkie/pkg/servermetrics"
)

// LimitsConfig sets the supervisor's rate limits; a zero Rule disables one. Limits are
// per replica.
type LimitsConfig struct {
	// Address finds the client address of a request (see ratelimit.ClientAddress).
	Address ratelimit.ClientAddress
	// Requests limits every request per client address to the endpoints that take
	// unauthenticated input: authorize, callback, login, token, revoke, device
	// authorization and the device page.
	Requests ratelimit.Rule
	// PasswordFailuresPerAddress and PasswordFailuresPerUsername count failed password
	// logins (CLI password flow and login form): once a client address or a username
	// has used up its burst, further attempts wait for the rate, without reaching the
	// upstream, so guessing is slow and an Active Directory account is not locked by
	// someone else's guesses.
	PasswordFailuresPerAddress  ratelimit.Rule
	PasswordFailuresPerUsername ratelimit.Rule
	// DeviceAuthorizations limits device login starts per client address: each stores a
	// session before anyone has logged in.
	DeviceAuthorizations ratelimit.Rule
	// MaxPendingDeviceLogins bounds the device logins this replica started that may be
	// pending at once (zero: no bound).
	MaxPendingDeviceLogins int
	// UserCodeFailures counts wrong user codes entered on the device page per client
	// address.
	UserCodeFailures ratelimit.Rule
	// ClientSecretFailures counts failed client authentications per client ID: each
	// costs bcrypt comparisons against every secret of the client.
	ClientSecretFailures ratelimit.Rule
	// Clock returns the current time (time.Now if nil).
	Clock func() time.Time
}

// DefaultLimits are limits no honest use by a company of 10,000 people behind one
// address reaches, with room for an hour-long morning peak: they stop floods and
// guessing, not users.
func DefaultLimits() LimitsConfig {
	return LimitsConfig{
		Requests:                    ratelimit.Rule{PerMinute: 24000, Burst: 2000},
		PasswordFailuresPerAddress:  ratelimit.Rule{PerMinute: 60, Burst: 300},
		PasswordFailuresPerUsername: ratelimit.Rule{PerMinute: 1, Burst: 5},
		DeviceAuthorizations:        ratelimit.Rule{PerMinute: 60, Burst: 30},
		MaxPendingDeviceLogins:      2000,
		UserCodeFailures:            ratelimit.Rule{PerMinute: 10, Burst: 20},
		ClientSecretFailures:        ratelimit.Rule{PerMinute: 60, Burst: 20},
	}
}

// Limits are the rate limits shared by every FederationDomain of a replica. A nil *Limits
// limits nothing.
type Limits struct {
	address                     ratelimit.ClientAddress
	requests                    *ratelimit.Limiter
	passwordFailuresPerAddress  *ratelimit.Limiter
	passwordFailuresPerUsername *ratelimit.Limiter
	deviceAuthorizations        *ratelimit.Limiter
	userCodeFailures            *ratelimit.Limiter
	clientSecretFailures        *ratelimit.Limiter
	pending                     *pendingCounter
	secrets                     *secretChecker
	polls                       *pollTracker
}

// NewLimits builds the limiters of cfg.
func NewLimits(cfg LimitsConfig) *Limits {
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	l := &Limits{
		address:                     cfg.Address,
		requests:                    ratelimit.New(cfg.Requests, 0, now),
		passwordFailuresPerAddress:  ratelimit.New(cfg.PasswordFailuresPerAddress, 0, now),
		passwordFailuresPerUsername: ratelimit.New(cfg.PasswordFailuresPerUsername, 0, now),
		deviceAuthorizations:        ratelimit.New(cfg.DeviceAuthorizations, 0, now),
		userCodeFailures:            ratelimit.New(cfg.UserCodeFailures, 0, now),
		clientSecretFailures:        ratelimit.New(cfg.ClientSecretFailures, 0, now),
		secrets:                     newSecretChecker(now),
		polls:                       &pollTracker{},
	}
	if cfg.MaxPendingDeviceLogins > 0 {
		l.pending = &pendingCounter{max: cfg.MaxPendingDeviceLogins, clock: now}
	}
	return l
}

// clientAddress is the key of r's client for the per-address limits.
func (l *Limits) clientAddress(r *http.Request) string {
	if l == nil {
		return ""
	}
	return l.address.Of(r)
}

// usernameKey identifies a username at an IdP for the per-username limit. Case and
// surrounding spaces are ignored: directories usually ignore them too.
func usernameKey(idp, username string) string {
	return idp + "\x00" + strings.ToLower(strings.TrimSpace(username))
}

// limited answers 429 with Retry-After and reports true when the request must wait; the
// audit line names the limit, never the key's username.
func (p *Provider) limited(w http.ResponseWriter, r *http.Request, name string, ok bool, wait time.Duration, browser bool) bool {
	if ok {
		return false
	}
	servermetrics.RateLimited.WithLabelValues(name).Inc()
	p.audit(r.Context(), "rate limited", "limit", name, "retryAfter", wait.Round(time.Second).String(), "clientAddress", p.cfg.Limits.clientAddress(r))
	if browser {
		w.Header().Set("Retry-After", ratelimit.RetryAfter(wait))
		http.Error(w, "Too Many Requests: too many attempts; try again in "+ratelimit.RetryAfter(wait)+" seconds", http.StatusTooManyRequests)
		return true
	}
	ratelimit.Reject(w, wait)
	return true
}

// allowRequest applies the per-address request limit.
func (p *Provider) allowRequest(w http.ResponseWriter, r *http.Request, browser bool) bool {
	l := p.cfg.Limits
	if l == nil {
		return true
	}
	ok, wait := l.requests.Allow(l.clientAddress(r))
	return !p.limited(w, r, "requests", ok, wait, browser)
}

// allowPassword checks the password failure limits before an attempt.
func (p *Provider) allowPassword(w http.ResponseWriter, r *http.Request, idp, username string, browser bool) bool {
	l := p.cfg.Limits
	if l == nil {
		return true
	}
	if ok, wait := l.passwordFailuresPerAddress.Check(l.clientAddress(r)); !ok {
		return !p.limited(w, r, "password-failures-per-address", ok, wait, browser)
	}
	ok, wait := l.passwordFailuresPerUsername.Check(usernameKey(idp, username))
	return !p.limited(w, r, "password-failures-per-username", ok, wait, browser)
}

// passwordFailed counts a failed password attempt.
func (p *Provider) passwordFailed(r *http.Request, idp, username string) {
	if l := p.cfg.Limits; l != nil {
		l.passwordFailuresPerAddress.Fail(l.clientAddress(r))
		l.passwordFailuresPerUsername.Fail(usernameKey(idp, username))
	}
}

// pendingCounter bounds the device logins started here that may still be pending.
type pendingCounter struct {
	max   int
	clock func() time.Time

	mu      sync.Mutex
	expires []time.Time // in start order
}

// add records a device login pending until expires, or reports false when too many are.
func (c *pendingCounter) add(expires time.Time) bool {
	if c == nil {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock()
	i := 0
	for i < len(c.expires) && !c.expires[i].After(now) {
		i++
	}
	c.expires = c.expires[i:]
	if len(c.expires) >= c.max {
		return false
	}
	c.expires = append(c.expires, expires)
	return true
}

// Client secrets are bcrypt hashes (cost 12 or more: a quarter of a second of CPU each).
// secretChecker remembers recent successes, so that a client pays bcrypt once per secret
// and hour, and runs at most one comparison per CPU at a time, so that failures cannot
// take every core.
const (
	secretCacheTTL  = time.Hour
	secretCacheSize = 4096
	secretWaitLimit = 5 * time.Second
)

type secretChecker struct {
	clock   func() time.Time
	slots   chan struct{}
	compare func(hash, password []byte) error // bcrypt.CompareHashAndPassword

	mu sync.Mutex
	ok map[[sha256.Size]byte]time.Time // sha256(hash, secret) -> until
}

// errBusy is a client authentication that found no free comparison slot in time.
var errBusy = errors.New("too many client authentications in progress")

func newSecretChecker(now func() time.Time) *secretChecker {
	return &secretChecker{clock: now, slots: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2)),
		compare: bcrypt.CompareHashAndPassword, ok: map[[sha256.Size]byte]time.Time{}}
}

func secretKey(hash []byte, secret string) [sha256.Size]byte {
	h := sha256.New()
	h.Write(hash)
	h.Write([]byte{0})
	h.Write([]byte(secret))
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// cached reports whether secret matched one of hashes within secretCacheTTL.
func (c *secretChecker) cached(hashes [][]byte, secret string) bool {
	now := c.clock()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range hashes {
		if until, ok := c.ok[secretKey(h, secret)]; ok && now.Before(until) {
			return true
		}
	}
	return false
}

// match reports whether secret matches one of hashes, with bcrypt (call cached first).
// errBusy means no comparison slot came free in time.
func (c *secretChecker) match(ctx context.Context, hashes [][]byte, secret string) (bool, error) {
	now := c.clock()
	wait, cancel := context.WithTimeout(ctx, secretWaitLimit)
	defer cancel()
	select {
	case c.slots <- struct{}{}:
	case <-wait.Done():
		return false, errBusy
	}
	defer func() { <-c.slots }()
	for _, h := range hashes {
		if c.compare(h, []byte(secret)) == nil {
			c.remember(secretKey(h, secret), now.Add(secretCacheTTL))
			return true, nil
		}
	}
	return false, nil
}

func (c *secretChecker) remember(k [sha256.Size]byte, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ok) >= secretCacheSize {
		now := c.clock()
		for old, t := range c.ok {
			if !now.Before(t) || len(c.ok) >= secretCacheSize {
				delete(c.ok, old)
			}
		}
	}
	c.ok[k] = until
}
