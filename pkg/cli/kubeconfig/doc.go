// SPDX-License-Identifier: Apache-2.0

// Package kubeconfig implements `selkie get kubeconfig` (docs/wire-contract.md §3.1–§3.2): from
// an admin kubeconfig it discovers how users should log in to that cluster — the
// concierge's CredentialIssuer strategy and endpoint, the authenticator, the supervisor
// and its identity provider — and prints a kubeconfig whose user runs `selkie login oidc`
// or `selkie login static` as an exec credential plugin.
//
// The generated kubeconfig carries no secret of the source kubeconfig: the admin
// credentials are only used for discovery. It does not log anyone in: the exec plugin
// (package login) does, each time kubectl runs.
package kubeconfig
