// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/selkie-dev/selkie/pkg/servermetrics"
)

// RFC 8693 token types.
const (
	tokenTypeAccessToken = "urn:ietf:params:oauth:token-type:access_token"
	tokenTypeJWT         = "urn:ietf:params:oauth:token-type:jwt"
)

// exchangeResponse is the token exchange answer.
type exchangeResponse struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type"`
	TokenType       string `json:"token_type"`
}

// exchangeGrant mints an ID token for one cluster audience from a live access token
// (docs/wire-contract.md §2.7). The audience is only the requested one, never the client's ID,
// so a cluster-scoped token cannot be replayed at the supervisor's clients.
func (p *Provider) exchangeGrant(w http.ResponseWriter, r *http.Request, form url.Values, client *Client) {
	ctx := r.Context()
	outcome := servermetrics.Failure
	defer func() { servermetrics.SupervisorTokenExchanges.WithLabelValues(p.cfg.Name, outcome).Inc() }()
	for _, forbidden := range []string{"resource", "scope", "actor_token", "actor_token_type"} {
		if form.Has(forbidden) {
			newError(errInvalidRequest, "the "+forbidden+" parameter is not supported").write(w)
			return
		}
	}
	if form.Get("subject_token_type") != tokenTypeAccessToken {
		newError(errInvalidRequest, "subject_token_type must be "+tokenTypeAccessToken).write(w)
		return
	}
	if form.Get("requested_token_type") != tokenTypeJWT {
		newError(errInvalidRequest, "requested_token_type must be "+tokenTypeJWT).write(w)
		return
	}
	audience := form.Get("audience")
	if reason := invalidAudience(audience); reason != "" {
		newError(errInvalidRequest, reason).write(w)
		return
	}
	s, secret, oerr := p.sessionForToken(ctx, prefixAccess, form.Get("subject_token"), errRequestUnauthorized)
	if oerr != nil {
		oerr.write(w)
		return
	}
	now := p.cfg.Clock()
	found := false
	for _, t := range s.AccessTokens {
		if now.Before(t.Expires) && p.tokens.matches(secret, t.Hash) {
			found = true
			break
		}
	}
	switch {
	case !found:
		newError(errRequestUnauthorized, "the subject_token is invalid or expired").write(w)
		return
	case s.ClientID != client.ID:
		newError(errInvalidGrant, "the subject_token was issued to another client").write(w)
		return
	case !slices.Contains(s.GrantedScopes, ScopeRequestAudience) || !slices.Contains(s.GrantedScopes, ScopeOpenID):
		newError(errAccessDenied, "the subject_token was not granted the openid and pinniped:request-audience scopes").write(w)
		return
	case s.Username == "":
		newError(errAccessDenied, "the session has no username").write(w)
		return
	}
	idToken, err := p.mintIDToken(s, idTokenRequest{audience: audience, lifetime: p.cfg.Lifetimes.ExchangeIDToken, exchange: true})
	if err != nil {
		p.log.ErrorContext(ctx, "could not sign an ID token", "error", err)
		newError(errServerError, "could not issue the token").write(w)
		return
	}
	outcome = servermetrics.Success
	p.audit(ctx, "token exchanged", "session", s.ID, "client", client.ID, "audience", audience)
	writeJSON(w, http.StatusOK, exchangeResponse{AccessToken: idToken, IssuedTokenType: tokenTypeJWT, TokenType: "N_A"})
}

// invalidAudience says why audience cannot be requested, or "".
func invalidAudience(audience string) string {
	switch {
	case audience == "":
		return "audience is required"
	case strings.Contains(audience, ".pinniped.dev"), strings.Contains(audience, ".selkie.dev"):
		return "audience must not contain .pinniped.dev or .selkie.dev, which are reserved"
	case audience == CLIClientID:
		return "audience must not be the CLI's client ID"
	}
	return ""
}
