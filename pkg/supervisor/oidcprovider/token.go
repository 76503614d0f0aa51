// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/selkie-dev/selkie/pkg/servermetrics"
	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// tokenResponse is the token endpoint's answer for the code and refresh grants.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
	IDToken      string `json:"id_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
}

// token handles POST /oauth2/token (docs/wire-contract.md §2.7).
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	form, oerr := parseTokenForm(r)
	if oerr != nil {
		oerr.write(w)
		return
	}
	client, oerr := p.authenticateClient(r, form)
	if oerr != nil {
		p.audit(r.Context(), "token request refused", "grant", form.Get("grant_type"), "error", oerr.Code, "reason", oerr.Description)
		oerr.write(w)
		return
	}
	grant := form.Get("grant_type")
	handlers := map[string]func(http.ResponseWriter, *http.Request, url.Values, *Client){
		GrantAuthorizationCode: p.codeGrant, GrantRefreshToken: p.refreshGrant, GrantTokenExchange: p.exchangeGrant,
		GrantDeviceCode: p.deviceCodeGrant,
	}
	handle, known := handlers[grant]
	switch {
	case grant == "":
		newError(errInvalidRequest, "grant_type is required").write(w)
	case !known:
		newError(errUnsupportedGrantType, "the grant_type is not supported").write(w)
	case !client.allowsGrant(grant):
		newError(errUnauthorizedClient, "the client is not allowed to use this grant_type").write(w)
	default:
		handle(w, r, form, client)
	}
}

// parseTokenForm reads the form body: one value per parameter, none oversized.
func parseTokenForm(r *http.Request) (url.Values, *oauthError) {
	if err := r.ParseForm(); err != nil {
		return nil, newError(errInvalidRequest, "the request body is not a valid form or is too large")
	}
	for name, values := range r.PostForm {
		if len(values) > 1 || len(values[0]) > maxParamLength {
			return nil, newError(errInvalidRequest, fmt.Sprintf("parameter %q is repeated or too long", name))
		}
	}
	return r.PostForm, nil
}

// authenticateClient accepts the public CLI client by client_id (or HTTP Basic with an
// empty password) and OIDCClients by client_secret_basic only.
func (p *Provider) authenticateClient(r *http.Request, form url.Values) (*Client, *oauthError) {
	id, secret, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return nil, newError(errInvalidClient, "the client credentials are malformed")
		}
		if formID := form.Get("client_id"); formID != "" && formID != id {
			return nil, newError(errInvalidRequest, "client_id does not match the client credentials")
		}
	} else {
		id = form.Get("client_id")
	}
	if form.Has("client_secret") {
		return nil, newError(errInvalidClient, "client_secret_basic is the only client authentication method")
	}
	client, err := p.client(r.Context(), id)
	if err != nil {
		if !errors.Is(err, ErrUnknownClient) {
			p.log.ErrorContext(r.Context(), "could not look up a client", "client", id, "error", err)
		}
		return nil, newError(errInvalidClient, "client authentication failed")
	}
	if client.Public {
		if secret != "" {
			return nil, newError(errInvalidClient, "client authentication failed")
		}
		return client, nil
	}
	if !basic || secret == "" {
		return nil, newError(errInvalidClient, "client authentication failed")
	}
	l := p.cfg.Limits
	if l.secrets.cached(client.SecretHashes, secret) {
		return client, nil // a secret that matched recently: no bcrypt, no limit
	}
	if ok, wait := l.clientSecretFailures.Check(client.ID); !ok {
		servermetrics.RateLimited.WithLabelValues("client-secret-failures").Inc()
		p.audit(r.Context(), "rate limited", "limit", "client-secret-failures", "client", client.ID, "clientAddress", l.clientAddress(r))
		return nil, tooManyRequests(wait)
	}
	ok, err := l.secrets.match(r.Context(), client.SecretHashes, secret)
	switch {
	case errors.Is(err, errBusy):
		servermetrics.RateLimited.WithLabelValues("client-secret-comparisons").Inc()
		p.audit(r.Context(), "rate limited", "limit", "client-secret-comparisons", "client", client.ID, "clientAddress", l.clientAddress(r))
		return nil, tooManyRequests(time.Second)
	case err != nil || !ok:
		l.clientSecretFailures.Fail(client.ID)
		return nil, newError(errInvalidClient, "client authentication failed")
	}
	return client, nil
}

// codeGrant redeems an authorization code (RFC 6749 §4.1.3 with PKCE, RFC 7636).
func (p *Provider) codeGrant(w http.ResponseWriter, r *http.Request, form url.Values, client *Client) {
	ctx := r.Context()
	now := p.cfg.Clock()
	code := form.Get("code")
	s, secret, oerr := p.sessionForToken(ctx, prefixCode, code, errInvalidGrant)
	if oerr != nil {
		oerr.write(w)
		return
	}
	invalid := newError(errInvalidGrant, "the authorization code is invalid, expired or was already used")
	refuse := func(e *oauthError, reason string) {
		p.audit(ctx, "authorization code refused", "session", s.ID, "client", client.ID, "reason", reason)
		e.write(w)
	}
	switch {
	case s.Code == nil || !p.tokens.matches(secret, s.Code.Hash):
		refuse(invalid, "the code does not match the session")
		return
	case s.Code.Used:
		// A replayed code may have been stolen: end everything issued from it.
		p.endSession(ctx, s, "authorization code replayed")
		refuse(invalid, "the code was already redeemed")
		return
	case !now.Before(s.Code.Expires):
		refuse(invalid, "the code expired")
		return
	case s.ClientID != client.ID:
		refuse(invalid, "the code was issued to another client")
		return
	case form.Get("redirect_uri") != s.RedirectURI:
		refuse(newError(errInvalidGrant, "redirect_uri does not match the authorization request"), "redirect_uri mismatch")
		return
	case !validVerifier(form.Get("code_verifier")) || s256(form.Get("code_verifier")) != s.CodeChallenge:
		refuse(newError(errInvalidGrant, "the PKCE code_verifier does not match the code_challenge"), "PKCE verification failed")
		return
	}
	s.Code.Used = true
	s.Expires = s.AuthTime.Add(p.sessionLifetime(s))
	resp, oerr := p.issueTokens(s, client, s.Nonce)
	if oerr != nil {
		oerr.write(w)
		return
	}
	if err := p.cfg.Store.Update(ctx, s); err != nil {
		if errors.Is(err, sessionstore.ErrConflict) { // redeemed concurrently: a replay
			p.endSession(ctx, s, "authorization code redeemed concurrently")
			invalid.write(w)
			return
		}
		p.storeError(ctx, w, err)
		return
	}
	p.audit(ctx, "authorization code redeemed", "session", s.ID, "client", client.ID)
	writeJSON(w, http.StatusOK, resp)
}

// validVerifier accepts RFC 7636 code verifiers: 43 to 128 unreserved characters.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~", c)) {
			return false
		}
	}
	return true
}

// maxLiveAccessTokens bounds the unexpired access tokens a session keeps. A CLI holds one
// at a time (it exchanges it at once); a few more cover clients that refresh from several
// places at once.
const maxLiveAccessTokens = 8

// issueTokens adds a new access token (and refresh token, with offline_access) to s and
// builds the answer, with an ID token when openid was granted.
func (p *Provider) issueTokens(s *sessionstore.Session, client *Client, nonce string) (*tokenResponse, *oauthError) {
	now := p.cfg.Clock()
	at, atHash, err := p.tokens.mint(prefixAccess, s.ID)
	if err != nil {
		return nil, newError(errServerError, "could not issue tokens")
	}
	live := s.AccessTokens[:0]
	for _, t := range s.AccessTokens {
		if now.Before(t.Expires) {
			live = append(live, t)
		}
	}
	if n := len(live); n >= maxLiveAccessTokens {
		// The oldest go first: a client that refreshes in a loop must not grow its
		// session toward the Secret size limit (nor every later read of it).
		live = append(live[:0], live[n-maxLiveAccessTokens+1:]...)
	}
	atLifetime := p.cfg.Lifetimes.AccessToken
	s.AccessTokens = append(live, sessionstore.Token{Hash: atHash, Expires: now.Add(atLifetime)})
	resp := &tokenResponse{AccessToken: at, ExpiresIn: int64(atLifetime / time.Second), Scope: strings.Join(s.GrantedScopes, " "), TokenType: "bearer"}
	if slices.Contains(s.GrantedScopes, ScopeOfflineAccess) {
		rt, rtHash, err := p.tokens.mint(prefixRefresh, s.ID)
		if err != nil {
			return nil, newError(errServerError, "could not issue tokens")
		}
		s.RefreshToken = &sessionstore.Token{Hash: rtHash, Expires: s.Expires}
		resp.RefreshToken = rt
	}
	if slices.Contains(s.GrantedScopes, ScopeOpenID) {
		lifetime := p.cfg.Lifetimes.IDToken
		if client.IDTokenLifetime > 0 {
			lifetime = client.IDTokenLifetime
		}
		idToken, err := p.mintIDToken(s, idTokenRequest{audience: client.ID, lifetime: lifetime, nonce: nonce, accessToken: at})
		if err != nil {
			p.log.Error("could not sign an ID token", "error", err)
			return nil, newError(errServerError, "could not issue tokens")
		}
		resp.IDToken = idToken
	}
	return resp, nil
}

// sessionForToken finds the session a token names, in this FederationDomain.
func (p *Provider) sessionForToken(ctx context.Context, prefix, token, code string) (*sessionstore.Session, string, *oauthError) {
	invalid := newError(code, "the token is invalid or expired")
	sid, secret, ok := p.tokens.parse(prefix, token)
	if !ok {
		return nil, "", invalid
	}
	s, err := p.cfg.Store.Get(ctx, sid)
	if errors.Is(err, sessionstore.ErrNotFound) {
		return nil, "", invalid
	}
	if err != nil {
		p.log.ErrorContext(ctx, "could not read a session", "session", sid, "error", err)
		return nil, "", newError(errServerError, "the session could not be read")
	}
	if s.Issuer != p.cfg.Issuer {
		return nil, "", invalid
	}
	return s, secret, nil
}

// sessionLifetime is the IdP's session lifetime if it sets one, else the domain's.
func (p *Provider) sessionLifetime(s *sessionstore.Session) time.Duration {
	if idp, ok := p.idp(s.IdP.DisplayName); ok && idp.SessionLifetime > 0 {
		return idp.SessionLifetime
	}
	return p.cfg.Lifetimes.Session
}

// endSession deletes s and asks its upstream to revoke its tokens, best effort.
func (p *Provider) endSession(ctx context.Context, s *sessionstore.Session, reason string) {
	if err := p.cfg.Store.Delete(ctx, s.ID, ""); err != nil && !errors.Is(err, sessionstore.ErrNotFound) {
		p.log.ErrorContext(ctx, "could not end a session", "session", s.ID, "error", err)
	}
	p.audit(ctx, "session ended", "session", s.ID, "reason", reason)
	if idp, ok := p.idp(s.IdP.DisplayName); ok && idp.Provider.UID() == s.IdP.UID {
		if rv, ok := idp.Provider.(upstream.Revoker); ok {
			if err := rv.RevokeUpstream(ctx, s.UpstreamData); err != nil {
				p.log.WarnContext(ctx, "could not revoke upstream tokens", "session", s.ID, "error", err)
			}
		}
	}
}

func (p *Provider) storeError(ctx context.Context, w http.ResponseWriter, err error) {
	p.log.ErrorContext(ctx, "could not write a session", "error", err)
	newError(errServerError, "the session could not be stored").write(w)
}
