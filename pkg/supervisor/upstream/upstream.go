// SPDX-License-Identifier: Apache-2.0

package upstream

import (
	"context"
	"errors"
)

// IdP types, as IdP discovery names them.
const (
	TypeOIDC            = "oidc"
	TypeLDAP            = "ldap"
	TypeActiveDirectory = "activedirectory"
	TypeGitHub          = "github"
)

// Login flows, as IdP discovery names them.
const (
	FlowBrowserAuthcode = "browser_authcode"
	FlowCLIPassword     = "cli_password"
)

// ErrBadCredentials is a wrong username or password (or an unknown user) in the password
// flow. Any other error from Login is the upstream failing, not the user.
var ErrBadCredentials = errors.New("incorrect username or password")

// Identity is who the upstream says the user is, before the FederationDomain's identity
// transforms run.
type Identity struct {
	// Subject is the user's stable identifier at the upstream (the OIDC `sub`, the LDAP
	// UID attribute, the GitHub user ID), from which DownstreamSubject builds the `sub`.
	Subject string
	// Username and Groups are mapped from upstream claims or attributes.
	Username string
	Groups   []string
	// AdditionalClaims are emitted under the downstream `additionalClaims` claim.
	AdditionalClaims map[string]any
	// UpstreamData is opaque to everyone but the Provider that made it: what it needs to
	// refresh or revoke (upstream refresh and access tokens, DNs). The session store seals
	// it at rest.
	UpstreamData []byte
}

// Provider is one configured upstream identity provider.
type Provider interface {
	// Type is one of the Type constants.
	Type() string
	// Namespace and Name identify the custom resource; UID its incarnation.
	Namespace() string
	Name() string
	UID() string
	// Flows lists the login flows in the server's order of preference.
	Flows() []string
	// DownstreamSubject is the downstream `sub` for id when the provider is used under
	// displayName in a FederationDomain (docs/wire-contract.md §2.8).
	DownstreamSubject(displayName string, id *Identity) string
}

// AuthorizeRequest is what the supervisor sends the user's browser to the upstream with.
type AuthorizeRequest struct {
	// RedirectURI is <FederationDomain issuer>/callback.
	RedirectURI string
	// State, Nonce and CodeChallenge (PKCE S256) are generated per login by the caller.
	State         string
	Nonce         string
	CodeChallenge string
}

// RedirectIdentityProvider logs users in by sending their browsers to the upstream.
type RedirectIdentityProvider interface {
	Provider
	// AuthorizeURL is where to send the browser.
	AuthorizeURL(req AuthorizeRequest) string
	// ExchangeCode redeems the code the upstream returned to the callback and verifies
	// what it gets (ID token signature, audience, nonce).
	ExchangeCode(ctx context.Context, code, codeVerifier, nonce, redirectURI string) (*Identity, error)
}

// PasswordIdentityProvider checks a username and password itself (LDAP, or an OIDC
// upstream's resource-owner password grant).
type PasswordIdentityProvider interface {
	Provider
	// Login returns ErrBadCredentials (possibly wrapped) for a wrong username or password.
	Login(ctx context.Context, username, password string) (*Identity, error)
}

// Refresher re-validates a user at the upstream on every downstream refresh.
type Refresher interface {
	// Refresh returns the user's current identity. It fails when the upstream no longer
	// accepts the user or when the upstream subject changed.
	Refresh(ctx context.Context, previous *Identity) (*Identity, error)
}

// Revoker revokes the upstream tokens kept in UpstreamData (RFC 7009), best effort:
// providers without a revocation endpoint return nil.
type Revoker interface {
	RevokeUpstream(ctx context.Context, upstreamData []byte) error
}
