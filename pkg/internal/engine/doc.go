// SPDX-License-Identifier: Apache-2.0

// Package engine holds the reconcile loop shared by every controller that turns a
// configuration resource into something live: the concierge's authenticators (JWT,
// webhook) and the supervisor's identity providers (OIDC, LDAP, Active Directory,
// GitHub). Each kind describes only what differs in a Kind; an Engine runs the rest:
// get, remove on delete, validate, store when the configuration's fingerprint changed,
// write status, and back off per object while a check that may heal by itself fails.
//
// It also holds the condition vocabulary those kinds validate with (Validation, Check)
// and the status-write helpers used by the other status-writing controllers.
package engine
