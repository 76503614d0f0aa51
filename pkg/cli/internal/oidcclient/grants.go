// SPDX-License-Identifier: Apache-2.0

package oidcclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Refresh redeems a refresh token. The answer must carry a valid ID token (no nonce).
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*Tokens, error) {
	tr, err := c.postToken(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
	if err != nil {
		return nil, err
	}
	return c.verifyTokens(ctx, tr, "")
}

// Exchange trades an access token for an ID token whose audience is only audience
// (RFC 8693); the result is verified as an ID token for that audience.
func (c *Client) Exchange(ctx context.Context, accessToken, audience string) (string, time.Time, error) {
	tr, err := c.postToken(ctx, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"audience": {audience}, "subject_token": {accessToken},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}, "requested_token_type": {"urn:ietf:params:oauth:token-type:jwt"}})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("token exchange for audience %q: %w", audience, err)
	}
	token, _, err := c.verifyIDToken(ctx, tr.AccessToken, audience)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("token exchange for audience %q: %w", audience, err)
	}
	return tr.AccessToken, token.Expiry, nil
}

// Revoke asks the issuer to end the session of a refresh token (RFC 7009). Issuers that
// do not advertise a revocation endpoint (the reference supervisor) are skipped.
func (c *Client) Revoke(ctx context.Context, refreshToken string) error {
	if c.Meta.RevocationEndpoint == "" {
		return nil
	}
	form := url.Values{"token": {refreshToken}, "token_type_hint": {"refresh_token"}, "client_id": {c.ClientID}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Meta.RevocationEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revoke: %s", resp.Status)
	}
	return nil
}

// AuthRequest is what every authorization request carries.
type AuthRequest struct {
	Scopes  []string
	IDPName string
	IDPType string
}

// authorizeURL builds the authorization request.
func (c *Client) authorizeURL(req AuthRequest, redirectURI, state, nonce, challenge, responseMode string) string {
	q := url.Values{"client_id": {c.ClientID}, "redirect_uri": {redirectURI}, "response_type": {"code"},
		"scope": {strings.Join(req.Scopes, " ")}, "state": {state}, "nonce": {nonce}, "code_challenge": {challenge},
		"code_challenge_method": {"S256"}, "access_type": {"offline"}}
	if responseMode != "" {
		q.Set("response_mode", responseMode)
	}
	if req.IDPName != "" {
		q.Set("pinniped_idp_name", req.IDPName)
		q.Set("pinniped_idp_type", req.IDPType)
	}
	sep := "?"
	if strings.Contains(c.Meta.AuthorizationEndpoint, "?") {
		sep = "&"
	}
	return c.Meta.AuthorizationEndpoint + sep + q.Encode()
}

// redeem exchanges an authorization code.
func (c *Client) redeem(ctx context.Context, code, redirectURI, verifier, nonce string) (*Tokens, error) {
	tr, err := c.postToken(ctx, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier}})
	if err != nil {
		return nil, err
	}
	return c.verifyTokens(ctx, tr, nonce)
}

// PasswordLogin is the CLI password flow: the username and password go to the
// authorization endpoint in headers and the answer must be a redirect, not followed, to
// exactly the loopback redirect URI with the request's state.
func (c *Client) PasswordLogin(ctx context.Context, req AuthRequest, listenPort int, username, password string) (*Tokens, error) {
	redirectURI := fmt.Sprintf("http://127.0.0.1:%d/callback", listenPort)
	p, err := newPKCE()
	if err != nil {
		return nil, err
	}
	authURL := c.authorizeURL(req, redirectURI, p.state, p.nonce, p.challenge, "")
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, err
	}
	httpReq.Header.Set("Pinniped-Username", username)
	httpReq.Header.Set("Pinniped-Password", password)
	noRedirects := *c.HTTP
	noRedirects.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirects.Do(httpReq)
	if err != nil {
		return nil, fmt.Errorf("authorization request: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests {
		return nil, fmt.Errorf("login refused for now: too many failed attempts; try again in %s seconds (Audit-ID %s)", resp.Header.Get("Retry-After"), resp.Header.Get("Audit-ID"))
	}
	if resp.StatusCode != http.StatusFound {
		return nil, fmt.Errorf("authorization request: got %s, want a 302 redirect (Audit-ID %s)", resp.Status, resp.Header.Get("Audit-ID"))
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Scheme != "http" || loc.Host != fmt.Sprintf("127.0.0.1:%d", listenPort) || loc.Path != "/callback" {
		return nil, errors.New("authorization request: the redirect is not to the CLI's callback")
	}
	q := loc.Query()
	if q.Get("state") != p.state {
		return nil, errors.New("authorization request: the redirect has the wrong state")
	}
	if e := q.Get("error"); e != "" {
		return nil, fmt.Errorf("login failed: %s: %s", e, q.Get("error_description"))
	}
	if q.Get("code") == "" {
		return nil, errors.New("authorization request: the redirect has no code")
	}
	return c.redeem(ctx, q.Get("code"), redirectURI, p.verifier, p.nonce)
}
