// SPDX-License-Identifier: Apache-2.0

// Package federationdomain turns FederationDomain resources into served OIDC issuers: a
// controller validates all of them together (issuers must be unique, hostnames need one
// TLS Secret), compiles the identity transforms of their identity providers (transform),
// writes their status, keeps their key Secrets, builds an oidcprovider.Provider per
// usable domain and swaps the set into the Router, which dispatches requests by host and
// issuer path and picks the SNI certificate.
//
// It does not implement the OIDC endpoints (oidcprovider) or talk to upstream IdPs
// (upstream/...).
package federationdomain
