// SPDX-License-Identifier: Apache-2.0

// Package credentialrequest is the REST storage of the concierge's virtual, create-only
// TokenCredentialRequest resource (docs/wire-contract.md §1.4): it authenticates the request's
// token with the named live authenticator and returns a short-lived client certificate.
// Every failure returns the same generic status; the real reason goes to the audit log.
// It owns neither the authenticators nor the signing keys, only the request flow.
package credentialrequest
