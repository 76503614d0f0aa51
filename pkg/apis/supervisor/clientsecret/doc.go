// SPDX-License-Identifier: Apache-2.0

// Package clientsecret holds the internal (hub) version of the
// clientsecret.supervisor.selkie.dev API: OIDCClientSecretRequest, which generates
// and revokes the client secrets of an OIDCClient.
//
// The supervisor's aggregated API server works on these types; clients use the
// versioned types in the v1alpha1 package. The REST storage lives elsewhere.
//
// +k8s:deepcopy-gen=package
// +groupName=clientsecret.supervisor.selkie.dev
package clientsecret
