// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/selkie-dev/selkie/pkg/servermetrics"
	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
	"github.com/selkie-dev/selkie/pkg/supervisor/transform"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// complete finishes a login: it runs the transforms, stores a session with an
// authorization code and hands the code to the client. A device login instead fills in
// the device authorization's session. flow is the upstream login's (upstream.Flow*).
func (p *Provider) complete(w http.ResponseWriter, r *http.Request, req *authRequest, idp *IdP, id *upstream.Identity, flow string) {
	ctx := r.Context()
	username, groups, oerr := p.mapIdentity(ctx, idp, id)
	if oerr != nil {
		outcome := servermetrics.LoginError
		if oerr.Code == errAccessDenied {
			outcome = servermetrics.LoginRejected
		}
		p.countLogin(idp, flow, outcome)
		p.redirectError(w, r, req, oerr)
		return
	}
	if req.DeviceSessionID != "" {
		p.approveDevice(w, r, req, idp, id, username, groups, flow)
		return
	}
	outcome := servermetrics.LoginError
	defer func() { p.countLogin(idp, flow, outcome) }()
	now := p.cfg.Clock()
	sid, err := newSessionID(p.cfg.Rand)
	if err != nil {
		p.redirectError(w, r, req, newError(errServerError, "could not store the login"))
		return
	}
	code, hash, err := p.tokens.mint(prefixCode, sid)
	if err != nil {
		p.redirectError(w, r, req, newError(errServerError, "could not store the login"))
		return
	}
	s := &sessionstore.Session{
		ID: sid, Issuer: p.cfg.Issuer, ClientID: req.ClientID, GrantedScopes: req.Granted,
		RedirectURI: req.RedirectURI, Nonce: req.Nonce, CodeChallenge: req.CodeChallenge,
		Expires: now.Add(p.cfg.Lifetimes.Code),
		Code:    &sessionstore.Token{Hash: hash, Expires: now.Add(p.cfg.Lifetimes.Code)},
	}
	setIdentity(s, idp, id, username, groups, now)
	if err := p.cfg.Store.Create(ctx, s); err != nil {
		p.log.ErrorContext(ctx, "could not store a session", "error", err)
		p.redirectError(w, r, req, newError(errServerError, "could not store the login"))
		return
	}
	outcome = servermetrics.LoginSuccess
	p.audit(ctx, "login succeeded", "idp", idp.DisplayName, "session", sid, "client", req.ClientID, p.userAttr(username, groups))
	p.respond(w, r, req, url.Values{"code": {code}, "scope": {strings.Join(req.Granted, " ")}, "state": {req.State}}, code)
}

// mapIdentity runs the IdP's transforms on an upstream identity; a policy rejection is
// access_denied with the policy's message for the user.
func (p *Provider) mapIdentity(ctx context.Context, idp *IdP, id *upstream.Identity) (string, []string, *oauthError) {
	username, groups, err := p.transform(ctx, idp, id.Username, id.Groups)
	if err == nil {
		return username, groups, nil
	}
	var rejected *transform.RejectedError
	if errors.As(err, &rejected) {
		p.audit(ctx, "login rejected by policy", "idp", idp.DisplayName, "reason", rejected.Message)
		return "", nil, newError(errAccessDenied,
			"The resource owner or authorization server denied the request. Reason: configured identity policy rejected this authentication: "+rejected.Message+".")
	}
	p.log.ErrorContext(ctx, "identity transform failed", "idp", idp.DisplayName, "error", err)
	return "", nil, newError(errServerError, "The identity could not be mapped.")
}

// setIdentity records who logged in, and when, in s.
func setIdentity(s *sessionstore.Session, idp *IdP, id *upstream.Identity, username string, groups []string, now time.Time) {
	s.AuthTime = now
	s.IdP = sessionstore.IdP{DisplayName: idp.DisplayName, Type: idp.Provider.Type(), Kind: kindOf(idp.Provider),
		Name: idp.Provider.Name(), UID: idp.Provider.UID()}
	s.Subject = idp.Provider.DownstreamSubject(idp.DisplayName, id)
	s.Username, s.Groups, s.AdditionalClaims = username, groups, id.AdditionalClaims
	s.UpstreamUsername, s.UpstreamGroups, s.UpstreamSubject, s.UpstreamData = id.Username, id.Groups, id.Subject, id.UpstreamData
}

// transform runs the IdP's transforms, then sorts and de-duplicates the groups.
func (p *Provider) transform(ctx context.Context, idp *IdP, username string, groups []string) (string, []string, error) {
	groups = slices.Clone(groups)
	if idp.Transform != nil {
		var err error
		if username, groups, err = idp.Transform(ctx, username, groups); err != nil {
			return "", nil, err
		}
	}
	if strings.TrimSpace(username) == "" {
		return "", nil, errors.New("the username is empty")
	}
	slices.Sort(groups)
	return username, slices.Compact(groups), nil
}

func kindOf(pr upstream.Provider) string {
	switch pr.Type() {
	case upstream.TypeOIDC:
		return upstream.KindOIDC
	case upstream.TypeLDAP:
		return upstream.KindLDAP
	case upstream.TypeActiveDirectory:
		return upstream.KindActiveDirectory
	case upstream.TypeGitHub:
		return upstream.KindGitHub
	}
	return ""
}
