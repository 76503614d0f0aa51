// SPDX-License-Identifier: Apache-2.0

// Package identity holds the internal (hub) version of the
// identity.concierge.selkie.dev API: WhoAmIRequest, which echoes the caller's
// identity as the serving API server authenticated it.
//
// The concierge's aggregated API server works on these types; clients use the
// versioned types in the v1alpha1 package. The REST storage lives elsewhere.
//
// +k8s:deepcopy-gen=package
// +groupName=identity.concierge.selkie.dev
package identity
