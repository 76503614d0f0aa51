// SPDX-License-Identifier: Apache-2.0

// Package sessionstore stores the supervisor's downstream sessions: one record per login,
// holding the identity, the granted scopes, the hashes of the tokens issued from it and the
// upstream IdP's opaque data (sealed with AES-256-GCM). Store is the one interface; the
// in-memory and the Kubernetes Secret implementations both pass the conformance suite in
// session/conformance. The garbage collector deletes expired sessions after asking the
// upstream to revoke its tokens.
//
// The sealing keys live in one Secret (KeyringSecretType): LoadKeyring reads or creates
// it, RotateKeyring adds a new active key and drops keys retired more than KeyRetention
// ago, and every replica follows rotations with Keyring.RunReload.
//
// The package does not interpret tokens or identities: the FederationDomain's provider
// decides what a session means.
package sessionstore
