// SPDX-License-Identifier: Apache-2.0

// Package v1alpha1 holds the authentication.concierge.selkie.dev/v1alpha1 API:
// the cluster-scoped JWTAuthenticator and WebhookAuthenticator CRDs that tell
// the concierge which tokens to accept in a TokenCredentialRequest.
//
// It owns the Go types, their OpenAPI/CEL validation markers and the
// condition vocabulary; it does not own the controllers that act on them.
// The group suffix "selkie.dev" is the default; installs may serve another
// suffix (see the docs/wire-contract.md §0.1).
//
// +k8s:deepcopy-gen=package
// +groupName=authentication.concierge.selkie.dev
package v1alpha1
