// SPDX-License-Identifier: Apache-2.0

// Package oidc connects the supervisor to upstream OpenID Connect providers: it
// turns an OIDCIdentityProvider custom resource (docs/wire-contract.md §1.7) into a live
// Provider in an upstream.Registry, and implements the login (authorization code
// with PKCE, and optionally the resource owner password grant), refresh
// re-validation (§2.9) and RFC 7009 revocation against the upstream.
//
// It owns upstream discovery, ID token verification, the mapping of upstream
// claims to an upstream.Identity, the format of Identity.UpstreamData for OIDC
// upstreams, and the status of OIDCIdentityProvider resources. It does not own
// downstream tokens, sessions, identity transforms or the FederationDomain's
// choice of provider.
//
// Nothing here logs or returns in errors the tokens, codes, passwords or client
// secrets it handles.
package oidc
