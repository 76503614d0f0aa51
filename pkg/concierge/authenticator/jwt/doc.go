// SPDX-License-Identifier: Apache-2.0

// Package jwt is the JWTAuthenticator controller of the concierge (docs/wire-contract.md
// §1.1). For each JWTAuthenticator it checks spec.issuer, loads spec.tls,
// performs OIDC discovery, checks and fetches the JWKS, builds a live token
// authenticator with k8s.io/apiserver's OIDC authenticator (RS256 and ES256,
// username and groups claims without prefix) and keeps it in the concierge's
// authenticator.Cache while, and only while, the resource is Ready. It reports
// each step as a status condition and reloads when a referenced CA Secret or
// ConfigMap changes.
//
// It owns the JWTAuthenticator status and its cache entries; it does not serve
// TokenCredentialRequests, which read the cache.
package jwt
