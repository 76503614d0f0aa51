// SPDX-License-Identifier: Apache-2.0

// Package v1alpha1 holds the idp.supervisor.selkie.dev/v1alpha1 API: the
// namespaced OIDCIdentityProvider, LDAPIdentityProvider,
// ActiveDirectoryIdentityProvider and GitHubIdentityProvider CRDs that describe
// the upstream identity providers of the supervisor.
//
// It owns the Go types, their validation markers, the condition vocabulary, the
// client Secret types and the documented runtime defaults of LDAP and Active
// Directory searches; it does not own the upstream connectors or controllers.
//
// +k8s:deepcopy-gen=package
// +groupName=idp.supervisor.selkie.dev
// +groupGoName=IDP
package v1alpha1
