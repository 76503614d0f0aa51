// SPDX-License-Identifier: Apache-2.0

package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// maxErrorMessage bounds error messages that quote upstream responses, which end up
// in resource status.
const maxErrorMessage = 300

// Discovery is an upstream's validated OIDC discovery document.
type Discovery struct {
	provider *oidc.Provider

	// Issuer is the discovered issuer, equal to the one asked for.
	Issuer string
	// AuthorizationEndpoint, TokenEndpoint and JWKSURI are required https URLs.
	AuthorizationEndpoint string
	TokenEndpoint         string
	JWKSURI               string
	// UserInfoEndpoint and RevocationEndpoint are empty when not advertised.
	UserInfoEndpoint   string
	RevocationEndpoint string
	// TokenEndpointAuthMethods is token_endpoint_auth_methods_supported.
	TokenEndpointAuthMethods []string
}

// DiscoveryError is a failed discovery. Unreachable is true when no HTTP response
// was received (network or TLS failure); otherwise the response was unusable.
type DiscoveryError struct {
	Unreachable bool
	err         error
}

// Error returns the cause, shortened to a length fit for a condition message.
func (e *DiscoveryError) Error() string {
	msg := e.err.Error()
	if len(msg) > maxErrorMessage {
		msg = msg[:maxErrorMessage] + "…"
	}
	return msg
}

// Unwrap returns the cause.
func (e *DiscoveryError) Unwrap() error { return e.err }

// discoveryExtra holds discovery members that go-oidc does not expose.
type discoveryExtra struct {
	JWKSURI            string   `json:"jwks_uri"`
	RevocationEndpoint string   `json:"revocation_endpoint"`
	TokenAuthMethods   []string `json:"token_endpoint_auth_methods_supported"`
}

// Discover fetches and validates issuer's discovery document with client, which
// the returned Discovery keeps for fetching signing keys. Errors are *DiscoveryError.
func Discover(ctx context.Context, issuer string, client *http.Client) (*Discovery, error) {
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, client), issuer)
	if err != nil {
		var urlErr *url.Error
		unreachable := errors.As(err, &urlErr) && urlErr.Op != "parse"
		return nil, &DiscoveryError{Unreachable: unreachable, err: fmt.Errorf("discover %s: %w", issuer, err)}
	}
	var extra discoveryExtra
	if err := p.Claims(&extra); err != nil {
		return nil, &DiscoveryError{err: fmt.Errorf("decode discovery document of %s: %w", issuer, err)}
	}
	d := &Discovery{
		provider:                 p,
		Issuer:                   issuer,
		AuthorizationEndpoint:    p.Endpoint().AuthURL,
		TokenEndpoint:            p.Endpoint().TokenURL,
		JWKSURI:                  extra.JWKSURI,
		UserInfoEndpoint:         p.UserInfoEndpoint(),
		RevocationEndpoint:       extra.RevocationEndpoint,
		TokenEndpointAuthMethods: extra.TokenAuthMethods,
	}
	if err := d.validate(); err != nil {
		return nil, &DiscoveryError{err: fmt.Errorf("discovery document of %s: %w", issuer, err)}
	}
	return d, nil
}

// validate checks that every endpoint the Provider uses is an absolute https URL.
func (d *Discovery) validate() error {
	endpoints := []struct {
		name, value string
		required    bool
	}{
		{"authorization_endpoint", d.AuthorizationEndpoint, true},
		{"token_endpoint", d.TokenEndpoint, true},
		{"jwks_uri", d.JWKSURI, true},
		{"userinfo_endpoint", d.UserInfoEndpoint, false},
		{"revocation_endpoint", d.RevocationEndpoint, false},
	}
	for _, e := range endpoints {
		if e.value == "" {
			if e.required {
				return fmt.Errorf("%s is missing", e.name)
			}
			continue
		}
		u, err := url.Parse(e.value)
		if err != nil {
			return fmt.Errorf("%s is not a URL: %w", e.name, err)
		}
		if u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("%s %q is not an absolute https URL", e.name, e.value)
		}
	}
	return nil
}

// authStyle is how to send client credentials to the token endpoint: HTTP basic
// authentication (the OIDC default, client_secret_basic) unless the upstream
// advertises only client_secret_post. Fixing it avoids oauth2's auto-detection, which
// repeats failed requests.
func (d *Discovery) authStyle() oauth2.AuthStyle {
	m := d.TokenEndpointAuthMethods
	if len(m) > 0 && !slices.Contains(m, "client_secret_basic") && slices.Contains(m, "client_secret_post") {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}
