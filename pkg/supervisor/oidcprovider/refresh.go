// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/selkie-dev/selkie/pkg/servermetrics"
	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// maxUsedRefreshTokens bounds the replay-detection history kept per session.
const maxUsedRefreshTokens = 100

// refreshGrant rotates a refresh token after re-validating the user upstream (wire
// contract §2.7, §2.9).
func (p *Provider) refreshGrant(w http.ResponseWriter, r *http.Request, form url.Values, client *Client) {
	ctx := r.Context()
	now := p.cfg.Clock()
	outcome, idpName, idpType := servermetrics.RefreshInvalid, "", ""
	defer func() {
		servermetrics.SupervisorRefreshes.WithLabelValues(p.cfg.Name, idpName, idpType, outcome).Inc()
	}()
	s, secret, oerr := p.sessionForToken(ctx, prefixRefresh, form.Get("refresh_token"), errInvalidGrant)
	if oerr != nil {
		if oerr.status >= http.StatusInternalServerError {
			outcome = servermetrics.RefreshError
		}
		oerr.write(w)
		return
	}
	idpName, idpType = s.IdP.Name, s.IdP.Type
	invalid := newError(errInvalidGrant, "the refresh token is invalid or expired")
	if s.RefreshToken == nil || !p.tokens.matches(secret, s.RefreshToken.Hash) {
		for _, used := range s.UsedRefreshTokens {
			if p.tokens.matches(secret, used) {
				// A rotated-out refresh token came back: one of the two holders is not the
				// user. End the session for both.
				p.endSession(ctx, s, "refresh token replayed")
				break
			}
		}
		p.audit(ctx, "refresh refused", "session", s.ID, "client", client.ID, "reason", "the refresh token is not the session's current one")
		invalid.write(w)
		return
	}
	if !now.Before(s.Expires) || s.ClientID != client.ID {
		p.audit(ctx, "refresh refused", "session", s.ID, "client", client.ID, "reason", "the session expired or belongs to another client")
		invalid.write(w)
		return
	}
	// The upstream may have rotated its tokens in a refresh whose result could not be
	// stored: present what it answered then (see upstreamKeeper).
	storedUpstream := s.UpstreamData
	s.UpstreamData = p.upstream.use(s.ID, storedUpstream)
	presented := s.UpstreamData
	warnings, err := p.revalidate(r, s)
	if err != nil {
		outcome = servermetrics.RefreshUpstreamFailure
		p.audit(ctx, "refresh failed", "session", s.ID, "idp", s.IdP.DisplayName, "reason", err.Error())
		newError(errUpstreamRefresh, "Error during upstream refresh. Upstream refresh failed.").write(w)
		return
	}
	s.UsedRefreshTokens = append(s.UsedRefreshTokens, s.RefreshToken.Hash)
	if n := len(s.UsedRefreshTokens); n > maxUsedRefreshTokens {
		s.UsedRefreshTokens = s.UsedRefreshTokens[n-maxUsedRefreshTokens:]
	}
	outcome = servermetrics.RefreshError
	// From here on the upstream may have rotated its refresh token: whatever stops the
	// session from being stored must keep what it answered (see upstreamKeeper).
	resp, oerr := p.issueTokens(s, client, "")
	if oerr != nil {
		if !bytes.Equal(s.UpstreamData, storedUpstream) {
			p.upstream.keep(s.ID, storedUpstream, s.UpstreamData)
		}
		oerr.write(w)
		return
	}
	if err := p.cfg.Store.Update(ctx, s); err != nil {
		outcome = p.refreshNotStored(ctx, w, s, err, storedUpstream, presented, invalid)
		return
	}
	p.upstream.stored(s.ID)
	if client.ID == CLIClientID {
		for _, warning := range warnings {
			w.Header().Add("Warning", "299 - "+strconv.Quote(warning))
		}
	}
	outcome = servermetrics.RefreshSuccess
	p.audit(ctx, "refreshed", "session", s.ID, "client", client.ID, p.userAttr(s.Username, s.Groups))
	writeJSON(w, http.StatusOK, resp)
}

// refreshNotStored answers a refresh whose session could not be stored (err), keeping
// what the upstream answered (s.UpstreamData) for the session, and returns the outcome
// to count.
func (p *Provider) refreshNotStored(ctx context.Context, w http.ResponseWriter, s *sessionstore.Session, err error,
	storedUpstream, presented []byte, invalid *oauthError) string {
	if errors.Is(err, sessionstore.ErrConflict) || errors.Is(err, sessionstore.ErrNotFound) {
		// Written concurrently: by another refresh, or by the keeper's writer storing the
		// very data this refresh presented upstream (when the store comes back, both
		// race). The session now holds data the upstream has just replaced, so keep the
		// answer for a session that holds what was presented; the writer stores it only
		// if that is still what the session holds.
		if errors.Is(err, sessionstore.ErrConflict) && !bytes.Equal(s.UpstreamData, presented) {
			p.upstream.keep(s.ID, presented, s.UpstreamData)
		}
		invalid.write(w) // refreshed, revoked or ended concurrently
		return servermetrics.RefreshInvalid
	}
	if !bytes.Equal(s.UpstreamData, storedUpstream) {
		p.upstream.keep(s.ID, storedUpstream, s.UpstreamData)
	}
	p.storeError(ctx, w, err)
	return servermetrics.RefreshError
}

// revalidate asks the upstream who the user is now, re-runs the transforms and updates s;
// the user must still exist with the same upstream subject and downstream username. It
// returns the group-change warnings.
func (p *Provider) revalidate(r *http.Request, s *sessionstore.Session) ([]string, error) {
	ctx := r.Context()
	idp, ok := p.idp(s.IdP.DisplayName)
	if !ok || idp.Provider.UID() != s.IdP.UID {
		return nil, errors.New("the identity provider of the session is gone or was replaced")
	}
	refresher, ok := idp.Provider.(upstream.Refresher)
	if !ok {
		return nil, errors.New("the identity provider cannot re-validate users")
	}
	start := time.Now()
	current, err := refresher.Refresh(ctx, &upstream.Identity{Subject: s.UpstreamSubject, Username: s.UpstreamUsername,
		Groups: s.UpstreamGroups, AdditionalClaims: s.AdditionalClaims, UpstreamData: s.UpstreamData})
	servermetrics.ObserveUpstream(idp.Provider.Name(), idp.Provider.Type(), servermetrics.UpstreamRefresh, start, err)
	if err != nil {
		return nil, fmt.Errorf("upstream refresh: %w", err)
	}
	if current.Subject != s.UpstreamSubject {
		return nil, errors.New("the upstream subject changed")
	}
	username, groups, err := p.transform(ctx, idp, current.Username, current.Groups)
	if err != nil {
		return nil, fmt.Errorf("identity transforms: %w", err)
	}
	if username != s.Username {
		return nil, errors.New("the username changed")
	}
	var warnings []string
	if added := missingFrom(s.Groups, groups); len(added) > 0 {
		warnings = append(warnings, fmt.Sprintf("User %q has been added to the following groups: %q", username, added))
	}
	if removed := missingFrom(groups, s.Groups); len(removed) > 0 {
		warnings = append(warnings, fmt.Sprintf("User %q has been removed from the following groups: %q", username, removed))
	}
	s.Groups, s.UpstreamUsername, s.UpstreamGroups = groups, current.Username, current.Groups
	if current.AdditionalClaims != nil {
		s.AdditionalClaims = current.AdditionalClaims
	}
	if current.UpstreamData != nil {
		s.UpstreamData = current.UpstreamData
	}
	return warnings, nil
}

// missingFrom returns the elements of b that are not in a.
func missingFrom(a, b []string) []string {
	var out []string
	for _, x := range b {
		if !slices.Contains(a, x) {
			out = append(out, x)
		}
	}
	return out
}
