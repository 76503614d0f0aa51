// SPDX-License-Identifier: Apache-2.0

// Package v1alpha1 holds the config.concierge.selkie.dev/v1alpha1 API: the
// cluster-scoped CredentialIssuer CRD through which the concierge is configured
// (impersonation proxy) and reports how clients can obtain cluster credentials
// (status.strategies).
//
// It owns the Go types, their validation markers and the strategy vocabulary; it
// does not own the concierge controllers that write the status.
//
// +k8s:deepcopy-gen=package
// +groupName=config.concierge.selkie.dev
package v1alpha1
