// SPDX-License-Identifier: Apache-2.0

// Package github connects the supervisor to GitHub and GitHub Enterprise Server:
// it turns a GitHubIdentityProvider custom resource (docs/wire-contract.md §1.9) into a
// live Provider in an upstream.Registry, and implements the OAuth web flow login,
// refresh re-validation (§2.9) and best-effort revocation of the GitHub access
// token.
//
// It owns the GitHub endpoints, the REST queries (user, organizations, teams,
// with Link pagination), the organization policy, the mapping of a GitHub user to
// an upstream.Identity, the format of Identity.UpstreamData for GitHub, and the
// status of GitHubIdentityProvider resources. It does not own downstream tokens,
// sessions, identity transforms or the FederationDomain's choice of provider.
//
// Nothing here logs or returns in errors the codes, access tokens or client
// secrets it handles; GitHub's response bodies are never quoted.
package github
