// SPDX-License-Identifier: Apache-2.0

// Package certauthority loads or creates a certificate authority and issues the
// short-lived client certificates the concierge returns from a TokenCredentialRequest
// (docs/wire-contract.md §4.1): a fresh ECDSA P-256 key per request, CN=username, one O per group
// in order, NotBefore backdated 5 minutes, a 5-minute lifetime by default, a random
// 128-bit serial, client-auth only, no SANs. It owns no storage: callers keep the CA's
// PEM in a Secret or a file. Time and randomness are injectable for tests.
package certauthority
