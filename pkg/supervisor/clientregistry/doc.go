// SPDX-License-Identifier: Apache-2.0

// Package clientregistry owns the OIDCClient side of the supervisor (docs/wire-contract.md §1.10,
// §2.6): the Secret that stores each client's bcrypt secret hashes, the controller that
// writes an OIDCClient's status, and the lookup through which the OIDC provider finds
// a Ready client and its hashes.
//
// It does not generate or revoke secrets (pkg/supervisor/clientsecretrequest does, through
// SecretStore) and does not authenticate clients (pkg/supervisor/oidcprovider does).
package clientregistry
