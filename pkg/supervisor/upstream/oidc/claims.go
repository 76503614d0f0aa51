// SPDX-License-Identifier: Apache-2.0

package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"golang.org/x/oauth2"
)

// claims are upstream claims, from an ID token or a userinfo response.
type claims map[string]any

// emailClaim needs email_verified (when present) to be true to be a username.
const emailClaim = "email"

// mapping is the part of an identity derived from claims. A field whose claim was
// absent is reported so that refresh can keep the previous value.
type mapping struct {
	username        string
	usernamePresent bool
	groups          []string
	groupsPresent   bool
	additional      map[string]any
}

// subject returns the `sub` claim, which must be a non-empty string.
func (c claims) subject() (string, error) {
	s, ok := c["sub"].(string)
	if !ok || s == "" {
		return "", errors.New("upstream claims have no sub")
	}
	return s, nil
}

// mapClaims applies the resource's claim mappings to c for the user sub.
func (p *Provider) mapClaims(c claims, sub string) (*mapping, error) {
	m := &mapping{}
	var err error
	if m.username, m.usernamePresent, err = p.mapUsername(c, sub); err != nil {
		return nil, err
	}
	if m.groups, m.groupsPresent, err = p.mapGroups(c); err != nil {
		return nil, err
	}
	for name, from := range p.claims.AdditionalClaimMappings {
		if v, ok := c[from]; ok {
			if m.additional == nil {
				m.additional = map[string]any{}
			}
			m.additional[name] = v
		}
	}
	return m, nil
}

// mapUsername returns the username from the configured claim, or
// "<upstream iss>?sub=<sub>" when no claim is configured.
func (p *Provider) mapUsername(c claims, sub string) (string, bool, error) {
	name := p.claims.Username
	if name == "" {
		return p.discovery.Issuer + "?sub=" + url.QueryEscape(sub), true, nil
	}
	v, ok := c[name]
	if !ok {
		return "", false, nil
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", true, fmt.Errorf("username claim %q is not a non-empty string", name)
	}
	if name == emailClaim {
		// An unverified email address could belong to someone else.
		if ev, present := c["email_verified"]; present {
			if verified, isBool := ev.(bool); !isBool || !verified {
				return "", true, fmt.Errorf("username claim %q is not verified: email_verified is %v", name, ev)
			}
		}
	}
	return s, true, nil
}

// mapGroups returns the groups from the configured claim, a string or a list of
// strings. No configured claim means no groups; an absent or null claim is
// reported as not present.
func (p *Provider) mapGroups(c claims) ([]string, bool, error) {
	name := p.claims.Groups
	if name == "" {
		return nil, true, nil
	}
	v, ok := c[name]
	if !ok || v == nil {
		return nil, false, nil
	}
	switch t := v.(type) {
	case string:
		return []string{t}, true, nil
	case []any:
		groups := make([]string, 0, len(t))
		for i, g := range t {
			s, ok := g.(string)
			if !ok {
				return nil, true, fmt.Errorf("groups claim %q: element %d is a %T, not a string", name, i, g)
			}
			groups = append(groups, s)
		}
		return groups, true, nil
	default:
		return nil, true, fmt.Errorf("groups claim %q is a %T, not a string or a list of strings", name, v)
	}
}

// lacksMappedClaims reports whether c misses the configured username or groups claim.
func (p *Provider) lacksMappedClaims(c claims) bool {
	_, hasUsername := c[p.claims.Username]
	_, hasGroups := c[p.claims.Groups]
	return (p.claims.Username != "" && !hasUsername) || (p.claims.Groups != "" && !hasGroups)
}

// userinfo fetches the userinfo claims with accessToken and checks that they are
// about sub.
func (p *Provider) userinfo(ctx context.Context, accessToken, sub string) (claims, error) {
	if p.discovery.UserInfoEndpoint == "" {
		return nil, errors.New("upstream has no userinfo endpoint")
	}
	info, err := p.discovery.provider.UserInfo(p.httpContext(ctx),
		oauth2.StaticTokenSource(&oauth2.Token{AccessToken: accessToken, TokenType: "Bearer"}))
	if err != nil {
		return nil, fmt.Errorf("upstream userinfo: %w", err)
	}
	var c claims
	if err := info.Claims(&c); err != nil {
		return nil, fmt.Errorf("decode upstream userinfo: %w", err)
	}
	got, err := c.subject()
	if err != nil {
		return nil, fmt.Errorf("upstream userinfo: %w", err)
	}
	if got != sub {
		return nil, errors.New("upstream userinfo is about another user: its sub differs")
	}
	return c, nil
}

// mergeMissing adds to c the claims of from that c lacks; claims already in c (the
// signed ID token) win.
func (c claims) mergeMissing(from claims) {
	for k, v := range from {
		if _, ok := c[k]; !ok {
			c[k] = v
		}
	}
}
