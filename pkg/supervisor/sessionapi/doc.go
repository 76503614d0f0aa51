// SPDX-License-Identifier: Apache-2.0

// Package sessionapi is the supervisor's Selkie-only admin API for sessions,
// session.supervisor.<suffix> (docs/wire-contract.md §5, "Logout and session revocation"): the
// scheme of the group and the get, list and delete storage of SupervisorSession, a
// read-only view of one session of the session store. Deleting a SupervisorSession
// deletes the session, so its refresh tokens stop working, and then revokes its
// upstream tokens, best effort.
//
// It reads and deletes through session.Store and never shows tokens, token hashes or
// upstream data; serving the group (certificates, delegated authentication and
// authorization) is pkg/aggregatedapi's job.
package sessionapi
