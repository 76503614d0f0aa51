// SPDX-License-Identifier: Apache-2.0

// Package keys owns a FederationDomain's key material in Kubernetes Secrets: the ES256
// signing keys with automatic, overlapping rotation (the JWKS publishes the next key
// before it signs anything and keeps the previous one while tokens it signed may still be
// verified), and the symmetric keys that seal upstream state and key token hashes.
//
// It does not decide what is signed: the FederationDomain's provider calls Set.Sign.
package keys
