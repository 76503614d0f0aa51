// SPDX-License-Identifier: Apache-2.0

// Package v1alpha1 holds the config.supervisor.selkie.dev/v1alpha1 API: the
// namespaced FederationDomain CRD (an OIDC issuer served by the supervisor, with
// its identity providers and identity transforms) and the OIDCClient CRD (a
// dynamic OAuth client of those issuers).
//
// It owns the Go types, their OpenAPI/CEL validation markers and the condition
// vocabulary. Rules that need other objects (issuer uniqueness, one TLS Secret
// per hostname, identity provider references, transform compilation, grant and
// scope combinations) are checked by the supervisor's controllers and reported as
// conditions.
//
// +k8s:deepcopy-gen=package
// +groupName=config.supervisor.selkie.dev
package v1alpha1
