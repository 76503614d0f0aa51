// SPDX-License-Identifier: Apache-2.0

// Package oidcprovider is one FederationDomain's OpenID Connect provider: the HTTP
// endpoints of docs/wire-contract.md §2 (discovery, JWKS, IdP discovery, authorize, callback,
// chooser, token, revocation, and the Selkie-only RFC 8628 device login) over a session
// store, the domain's keys and its upstream identity providers.
//
// The protocol code is our own rather than a library's: the contract fixes status codes
// (302 for the CLI password flow, 303 for browser redirects), HTML pages, error bodies
// and PKCE for every client, which left little of a generic OP library's behaviour in
// use (see docs/supervisor.md).
//
// It does not watch Kubernetes: the FederationDomain controller builds a Provider from a
// validated FederationDomain and swaps it into the issuer router.
package oidcprovider
