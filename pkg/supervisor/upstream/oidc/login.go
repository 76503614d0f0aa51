// SPDX-License-Identifier: Apache-2.0

package oidc

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"golang.org/x/oauth2"

	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// AuthorizeURL returns the upstream authorization URL of a code flow with PKCE
// (S256) for req, requesting the provider's scopes with its additional
// authorize parameters.
func (p *Provider) AuthorizeURL(req upstream.AuthorizeRequest) string {
	opts := make([]oauth2.AuthCodeOption, 0, 3+len(p.authorizeParameters))
	opts = append(opts,
		oauth2.SetAuthURLParam("nonce", req.Nonce),
		oauth2.SetAuthURLParam("code_challenge", req.CodeChallenge),
		oauth2.SetAuthURLParam("code_challenge_method", "S256"),
	)
	for _, param := range p.authorizeParameters {
		opts = append(opts, oauth2.SetAuthURLParam(param.Name, param.Value))
	}
	return p.oauth2Config(req.RedirectURI).AuthCodeURL(req.State, opts...)
}

// ExchangeCode redeems code with its PKCE verifier, verifies the returned ID token
// (signature, issuer, audience, expiry, and a nonce equal to nonce) and maps its
// claims to an identity.
func (p *Provider) ExchangeCode(ctx context.Context, code, codeVerifier, nonce, redirectURI string) (*upstream.Identity, error) {
	tok, err := p.oauth2Config(redirectURI).Exchange(p.httpContext(ctx), code, oauth2.VerifierOption(codeVerifier))
	if err != nil {
		return nil, tokenRequestError("exchange upstream authorization code", err)
	}
	return p.identityFromTokens(ctx, tok, &nonce)
}

// Login runs the upstream resource owner password grant. A rejected username or
// password is reported as upstream.ErrBadCredentials (wrapped).
func (p *PasswordProvider) Login(ctx context.Context, username, password string) (*upstream.Identity, error) {
	if username == "" || password == "" {
		return nil, fmt.Errorf("upstream password grant: empty username or password: %w", upstream.ErrBadCredentials)
	}
	tok, err := p.oauth2Config("").PasswordCredentialsToken(p.httpContext(ctx), username, password)
	if err != nil {
		if isBadCredentials(err) {
			return nil, fmt.Errorf("upstream password grant: %w", upstream.ErrBadCredentials)
		}
		return nil, tokenRequestError("upstream password grant", err)
	}
	return p.identityFromTokens(ctx, tok, nil)
}

// identityFromTokens verifies the ID token of a login's token response (with the
// nonce, when not nil), merges userinfo claims when the ID token lacks a mapped
// claim, and returns the identity with its UpstreamData.
func (p *Provider) identityFromTokens(ctx context.Context, tok *oauth2.Token, nonce *string) (*upstream.Identity, error) {
	c, sub, err := p.verifyIDToken(ctx, tok)
	if err != nil {
		return nil, err
	}
	if nonce != nil && subtle.ConstantTimeCompare([]byte(c.nonce()), []byte(*nonce)) != 1 {
		return nil, errors.New("upstream ID token nonce does not match the authorization request")
	}
	hasUserinfo := p.discovery.UserInfoEndpoint != "" && tok.AccessToken != ""
	if tok.RefreshToken == "" && !hasUserinfo {
		return nil, errors.New("upstream returned no refresh token, and no access token usable at a userinfo endpoint: " +
			"the session could not be re-validated on refresh (request offline_access or enable refresh tokens for the client)")
	}
	if hasUserinfo && p.lacksMappedClaims(c) {
		info, err := p.userinfo(ctx, tok.AccessToken, sub)
		if err != nil {
			return nil, err
		}
		c.mergeMissing(info)
	}
	m, err := p.mapClaims(c, sub)
	if err != nil {
		return nil, err
	}
	if !m.usernamePresent {
		return nil, fmt.Errorf("upstream ID token and userinfo have no username claim %q", p.claims.Username)
	}
	data, err := newUpstreamData(p.discovery.Issuer, sub, tok).marshal()
	if err != nil {
		return nil, err
	}
	return &upstream.Identity{
		Subject:          sub,
		Username:         m.username,
		Groups:           m.groups,
		AdditionalClaims: m.additional,
		UpstreamData:     data,
	}, nil
}

// verifyIDToken verifies the id_token of tok (signature with the upstream's keys,
// issuer, audience = client ID, expiry) and returns its claims and subject.
func (p *Provider) verifyIDToken(ctx context.Context, tok *oauth2.Token) (claims, string, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, "", errors.New("upstream token response has no id_token")
	}
	idToken, err := p.verifier.Verify(p.httpContext(ctx), raw)
	if err != nil {
		return nil, "", fmt.Errorf("verify upstream ID token: %w", err)
	}
	var c claims
	if err := idToken.Claims(&c); err != nil {
		return nil, "", fmt.Errorf("decode upstream ID token claims: %w", err)
	}
	sub, err := c.subject()
	if err != nil {
		return nil, "", fmt.Errorf("upstream ID token: %w", err)
	}
	return c, sub, nil
}

// nonce returns the `nonce` claim, or "" when absent.
func (c claims) nonce() string {
	s, _ := c["nonce"].(string)
	return s
}
