// SPDX-License-Identifier: Apache-2.0

// Package oidcclient is the CLI's side of the supervisor's OIDC contract (docs/wire-contract.md
// §3.5): discovery and IdP discovery, the browser authcode flow with a loopback listener
// (or a pasted code), the CLI password flow, refresh, RFC 8693 token exchange and RFC
// 7009 revocation, with every ID token verified (signature, issuer, audience, at_hash,
// nonce).
//
// It does not cache anything or talk to the concierge: the login command does.
package oidcclient
