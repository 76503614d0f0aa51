// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
)

// devicePollLeeway forgives polls this much early: replicas' clocks differ a little, and
// a client that waits the interval after an answer must never be told to slow down.
const devicePollLeeway = time.Second

// deviceCodeGrant answers a device polling with its device code (RFC 8628 §3.4, §3.5):
// authorization_pending or slow_down until the user approved, then the tokens of an
// authorization code grant, once; the session then lives on as a normal one.
func (p *Provider) deviceCodeGrant(w http.ResponseWriter, r *http.Request, form url.Values, client *Client) {
	ctx := r.Context()
	now := p.cfg.Clock()
	s, secret, oerr := p.sessionForToken(ctx, prefixDeviceCode, form.Get("device_code"), errInvalidGrant)
	if oerr != nil {
		oerr.write(w)
		return
	}
	g := s.DeviceGrant
	refuse := func(e *oauthError, reason string) {
		p.audit(ctx, "device code refused", "session", s.ID, "client", client.ID, "reason", reason)
		e.write(w)
	}
	switch {
	case g == nil || !p.tokens.matches(secret, g.CodeHash):
		refuse(newError(errInvalidGrant, "the device code is invalid or was already used"), "the device code does not match a device grant")
	case client.ID != CLIClientID || s.ClientID != client.ID:
		refuse(newError(errInvalidGrant, "the device code is invalid or was already used"), "the device code was issued to another client")
	case !now.Before(g.Expires):
		refuse(newError(errExpiredToken, "the device code expired before the login was completed"), "the device code expired")
	case g.Status == sessionstore.DeviceGrantDenied:
		// Final: the session held no identity and goes now.
		if err := p.cfg.Store.Delete(ctx, s.ID, s.ResourceVersion); err != nil && !errors.Is(err, sessionstore.ErrNotFound) && !errors.Is(err, sessionstore.ErrConflict) {
			p.log.ErrorContext(ctx, "could not delete a denied device session", "session", s.ID, "error", err)
		}
		refuse(newError(errAccessDenied, "the login was denied or failed"), "the device grant was denied")
	case g.Status == sessionstore.DeviceGrantApproved:
		p.collectDevice(w, r, s, client)
	default:
		p.pollPending(w, r, s)
	}
}

// pollPending answers a poll of a pending grant: authorization_pending, or slow_down
// (and a longer interval from now on) when it came too early. Polls are tracked in this
// replica's memory, not in the session: a poll writes nothing, however fast it comes.
func (p *Provider) pollPending(w http.ResponseWriter, _ *http.Request, s *sessionstore.Session) {
	g := s.DeviceGrant
	if p.cfg.Limits.polls.poll(s.ID, p.cfg.Clock(), s.Expires, g.Interval) {
		newError(errSlowDown, "polling too fast: wait the interval, now 5 seconds longer, between requests").write(w)
		return
	}
	newError(errAuthorizationPending, "the user has not completed the login yet").write(w)
}

// pollTracker remembers the last poll of each pending device grant and its interval.
// Entries are only made for valid device codes and dropped once their session expires,
// so it holds at most the pending device logins.
type pollTracker struct {
	mu    sync.Mutex
	polls map[string]pollState
}

type pollState struct {
	at, until time.Time
	interval  time.Duration
}

// poll records a poll of session id at now and reports whether it came too early, in
// which case the interval grows by devicePollSlowDown.
func (t *pollTracker) poll(id string, now, until time.Time, interval time.Duration) (tooEarly bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.polls == nil {
		t.polls = map[string]pollState{}
	}
	st, seen := t.polls[id]
	if !seen {
		if len(t.polls) >= pollTrackerPrune {
			for k, v := range t.polls {
				if !now.Before(v.until) {
					delete(t.polls, k)
				}
			}
		}
		st.interval = interval
	}
	tooEarly = seen && now.Sub(st.at) < st.interval-devicePollLeeway
	if tooEarly {
		st.interval += devicePollSlowDown
	}
	st.at, st.until = now, until
	t.polls[id] = st
	return tooEarly
}

// pollTrackerPrune is the size at which the tracker drops expired entries.
const pollTrackerPrune = 1024

// collectDevice issues the tokens of an approved grant and removes the grant, so that the
// device code works once.
func (p *Provider) collectDevice(w http.ResponseWriter, r *http.Request, s *sessionstore.Session, client *Client) {
	ctx := r.Context()
	s.DeviceGrant = nil
	s.Expires = s.AuthTime.Add(p.sessionLifetime(s))
	resp, oerr := p.issueTokens(s, client, "")
	if oerr != nil {
		oerr.write(w)
		return
	}
	if err := p.cfg.Store.Update(ctx, s); err != nil {
		if errors.Is(err, sessionstore.ErrConflict) || errors.Is(err, sessionstore.ErrNotFound) {
			newError(errInvalidGrant, "the device code is invalid or was already used").write(w) // collected concurrently
			return
		}
		p.storeError(ctx, w, err)
		return
	}
	p.audit(ctx, "device code redeemed", "session", s.ID, "client", client.ID)
	writeJSON(w, http.StatusOK, resp)
}
