// SPDX-License-Identifier: Apache-2.0

// Package session holds the internal (hub) version of the session.supervisor.selkie.dev
// API: SupervisorSession, a read-only view of one downstream login that an
// administrator can list and delete (revoke). The API is Selkie-only (docs/wire-contract.md §5).
//
// The supervisor's aggregated API server works on these types; clients use the
// versioned types in the v1alpha1 package. The REST storage lives elsewhere, and so
// does the session store (pkg/supervisor/sessionstore).
//
// +k8s:deepcopy-gen=package
// +groupName=session.supervisor.selkie.dev
package session
