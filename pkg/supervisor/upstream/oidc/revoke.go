// SPDX-License-Identifier: Apache-2.0

package oidc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// maxRevocationResponse bounds how much of a revocation response is read.
const maxRevocationResponse = 64 << 10

// RevokeUpstream revokes the refresh token and then the access token stored in
// upstreamData at the upstream's revocation_endpoint (RFC 7009), authenticating
// with the client credentials. It returns nil when the upstream advertises no
// revocation endpoint.
func (p *Provider) RevokeUpstream(ctx context.Context, upstreamData []byte) error {
	if p.discovery.RevocationEndpoint == "" {
		return nil
	}
	d, err := parseUpstreamData(upstreamData, p.discovery.Issuer)
	if err != nil {
		return fmt.Errorf("revoke upstream tokens: %w", err)
	}
	var errs []error
	if d.RefreshToken != "" {
		errs = append(errs, p.revoke(ctx, d.RefreshToken, "refresh_token"))
	}
	if d.AccessToken != "" {
		errs = append(errs, p.revoke(ctx, d.AccessToken, "access_token"))
	}
	return errors.Join(errs...)
}

// revoke asks the upstream to revoke token of type hint.
func (p *Provider) revoke(ctx context.Context, token, hint string) error {
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	inParams := p.discovery.authStyle() == oauth2.AuthStyleInParams
	if inParams {
		form.Set("client_id", p.clientID)
		form.Set("client_secret", p.clientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.discovery.RevocationEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("revoke upstream %s: %w", hint, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if !inParams {
		// RFC 6749 §2.3.1: the credentials are form-encoded before basic authentication.
		req.SetBasicAuth(url.QueryEscape(p.clientID), url.QueryEscape(p.clientSecret))
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("revoke upstream %s: %w", hint, err)
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxRevocationResponse))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revoke upstream %s: revocation endpoint responded %s", hint, resp.Status)
	}
	return nil
}
