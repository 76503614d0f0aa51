// SPDX-License-Identifier: Apache-2.0

// Package login holds the internal (hub) version of the login.concierge.selkie.dev
// API: TokenCredentialRequest, which exchanges a token accepted by an authenticator
// for a short-lived cluster credential.
//
// The concierge's aggregated API server works on these types; clients use the
// versioned types in the v1alpha1 package. The REST storage lives elsewhere.
//
// +k8s:deepcopy-gen=package
// +groupName=login.concierge.selkie.dev
package login
