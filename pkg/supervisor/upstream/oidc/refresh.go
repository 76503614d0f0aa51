// SPDX-License-Identifier: Apache-2.0

package oidc

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"golang.org/x/oauth2"

	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// Refresh re-validates previous at the upstream (docs/wire-contract.md §2.9). With a stored
// refresh token it runs the refresh grant and keeps the rotated refresh token; the
// claims come from the returned ID token (verified, same sub), else from userinfo
// with the new access token, else the previous identity is kept. Without a refresh
// token it calls userinfo with the stored access token, which must not have
// expired. The sub and the username must not change; groups and additional claims
// are updated from the claims that are present. Any upstream failure is an error.
func (p *Provider) Refresh(ctx context.Context, previous *upstream.Identity) (*upstream.Identity, error) {
	if previous == nil {
		return nil, errors.New("refresh upstream identity: no previous identity")
	}
	d, err := parseUpstreamData(previous.UpstreamData, p.discovery.Issuer)
	if err != nil {
		return nil, fmt.Errorf("refresh upstream identity: %w", err)
	}
	if d.Subject != previous.Subject {
		return nil, errors.New("refresh upstream identity: upstream data belongs to another subject")
	}
	var c claims
	if d.RefreshToken != "" {
		c, err = p.refreshGrant(ctx, d)
	} else {
		c, err = p.claimsWithStoredAccessToken(ctx, d)
	}
	if err != nil {
		return nil, fmt.Errorf("refresh upstream identity: %w", err)
	}
	next, err := p.remap(previous, c)
	if err != nil {
		return nil, fmt.Errorf("refresh upstream identity: %w", err)
	}
	if next.UpstreamData, err = d.marshal(); err != nil {
		return nil, err
	}
	return next, nil
}

// refreshGrant refreshes the tokens in d, updating d, and returns the current
// claims, or nil when the upstream returned none to check.
func (p *Provider) refreshGrant(ctx context.Context, d *upstreamData) (claims, error) {
	src := p.oauth2Config("").TokenSource(p.httpContext(ctx), &oauth2.Token{RefreshToken: d.RefreshToken})
	tok, err := src.Token()
	if err != nil {
		return nil, tokenRequestError("refresh upstream tokens", err)
	}
	d.setTokens(tok)
	hasUserinfo := p.discovery.UserInfoEndpoint != "" && tok.AccessToken != ""
	if raw, _ := tok.Extra("id_token").(string); raw == "" {
		if !hasUserinfo {
			return nil, nil
		}
		return p.userinfo(ctx, tok.AccessToken, d.Subject)
	}
	c, sub, err := p.verifyIDToken(ctx, tok)
	if err != nil {
		return nil, err
	}
	if sub != d.Subject {
		return nil, errors.New("the refreshed upstream ID token has another sub")
	}
	if hasUserinfo && p.lacksMappedClaims(c) {
		info, err := p.userinfo(ctx, tok.AccessToken, sub)
		if err != nil {
			return nil, err
		}
		c.mergeMissing(info)
	}
	return c, nil
}

// claimsWithStoredAccessToken returns the userinfo claims of the user of d with its
// stored access token.
func (p *Provider) claimsWithStoredAccessToken(ctx context.Context, d *upstreamData) (claims, error) {
	switch {
	case d.AccessToken == "":
		return nil, errors.New("no upstream refresh token or access token is stored")
	case p.discovery.UserInfoEndpoint == "":
		return nil, errors.New("no upstream refresh token is stored and the upstream has no userinfo endpoint")
	case d.AccessTokenExpiry != nil && !p.clock().Before(*d.AccessTokenExpiry):
		return nil, fmt.Errorf("the stored upstream access token expired at %s", d.AccessTokenExpiry.Format("2006-01-02T15:04:05Z07:00"))
	}
	return p.userinfo(ctx, d.AccessToken, d.Subject)
}

// remap returns previous updated with the mapping of c (nil c keeps previous).
func (p *Provider) remap(previous *upstream.Identity, c claims) (*upstream.Identity, error) {
	next := &upstream.Identity{
		Subject:          previous.Subject,
		Username:         previous.Username,
		Groups:           slices.Clone(previous.Groups),
		AdditionalClaims: maps.Clone(previous.AdditionalClaims),
	}
	if c == nil {
		return next, nil
	}
	m, err := p.mapClaims(c, previous.Subject)
	if err != nil {
		return nil, err
	}
	// A changed username would change who the downstream session is for: the user
	// has to log in again instead.
	if m.usernamePresent && m.username != previous.Username {
		return nil, errors.New("the upstream username changed since login")
	}
	if m.groupsPresent {
		next.Groups = m.groups
	}
	for name, v := range m.additional {
		if next.AdditionalClaims == nil {
			next.AdditionalClaims = map[string]any{}
		}
		next.AdditionalClaims[name] = v
	}
	return next, nil
}
