// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"context"
	"errors"
	"net"
	"net/url"
	"slices"
	"time"
)

// Wire constants of the contract (§0.2).
const (
	// CLIClientID is the static public client every FederationDomain has.
	CLIClientID = "pinniped-cli"

	ScopeOpenID          = "openid"
	ScopeOfflineAccess   = "offline_access"
	ScopeRequestAudience = "pinniped:request-audience"
	ScopeUsername        = "username"
	ScopeGroups          = "groups"
	scopeEmail           = "email"
	scopeProfile         = "profile"

	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
	// GrantDeviceCode is RFC 8628's grant, a Selkie extension for the CLI client only.
	GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"
)

// Client is a downstream OAuth client: the static CLI client or an OIDCClient.
type Client struct {
	ID string
	// Public clients (only the CLI) do not authenticate.
	Public bool
	// RedirectURIs are matched exactly, except that a loopback http URI matches any port.
	RedirectURIs []string
	GrantTypes   []string
	Scopes       []string
	// IDTokenLifetime overrides the default for authcode and refresh ID tokens; zero
	// keeps the default.
	IDTokenLifetime time.Duration
	// SecretHashes are bcrypt hashes of the client secrets.
	SecretHashes [][]byte
}

// ClientLookup finds a dynamic client (an OIDCClient) by ID; it returns ErrUnknownClient
// when there is none.
type ClientLookup func(ctx context.Context, id string) (*Client, error)

// ErrUnknownClient is a client ID no client has.
var ErrUnknownClient = errors.New("unknown client")

// cliClient is the implicit public client of the CLIs.
//
//nolint:gochecknoglobals // the implicit public client is fixed and never modified.
var cliClient = &Client{
	ID:           CLIClientID,
	Public:       true,
	RedirectURIs: []string{"http://127.0.0.1/callback"},
	GrantTypes:   []string{GrantAuthorizationCode, GrantRefreshToken, GrantTokenExchange, GrantDeviceCode},
	Scopes:       []string{ScopeOpenID, ScopeOfflineAccess, scopeProfile, scopeEmail, ScopeRequestAudience, ScopeUsername, ScopeGroups},
}

// client returns the client with id.
func (p *Provider) client(ctx context.Context, id string) (*Client, error) {
	if id == CLIClientID {
		return cliClient, nil
	}
	if p.cfg.Clients == nil || id == "" {
		return nil, ErrUnknownClient
	}
	return p.cfg.Clients(ctx, id)
}

// allowsRedirect matches uri against the registered redirect URIs; for loopback http
// URIs the port is ignored (RFC 8252 §7.3), scheme, host, path and query must match.
func (c *Client) allowsRedirect(uri string) bool {
	if uri == "" || len(uri) > maxParamLength {
		return false
	}
	got, err := url.Parse(uri)
	if err != nil || got.Fragment != "" || got.User != nil {
		return false
	}
	for _, registered := range c.RedirectURIs {
		if registered == uri {
			return got.Scheme == "https" || isLoopbackHTTP(got)
		}
		want, err := url.Parse(registered)
		if err != nil || !isLoopbackHTTP(want) || !isLoopbackHTTP(got) {
			continue
		}
		if want.Hostname() == got.Hostname() && want.Path == got.Path && want.RawQuery == got.RawQuery {
			return true
		}
	}
	return false
}

func isLoopbackHTTP(u *url.URL) bool {
	if u.Scheme != "http" {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback() && (ip.Equal(net.IPv6loopback) || ip.Equal(net.IPv4(127, 0, 0, 1)))
}

func (c *Client) allowsGrant(grant string) bool { return slices.Contains(c.GrantTypes, grant) }

// grantScopes returns the scopes granted for requested, or the first scope the client
// may not ask for. There is no consent screen: openid, offline_access,
// pinniped:request-audience, username and groups are granted when requested, email and
// profile never; the CLI always gets username and groups.
func (c *Client) grantScopes(requested []string) (granted []string, refused string) {
	for _, s := range requested {
		if !slices.Contains(c.Scopes, s) {
			return nil, s
		}
		switch s {
		case ScopeOpenID, ScopeOfflineAccess, ScopeRequestAudience, ScopeUsername, ScopeGroups:
			if !slices.Contains(granted, s) {
				granted = append(granted, s)
			}
		}
	}
	if c.ID == CLIClientID {
		for _, s := range []string{ScopeUsername, ScopeGroups} {
			if !slices.Contains(granted, s) {
				granted = append(granted, s)
			}
		}
	}
	return granted, ""
}
