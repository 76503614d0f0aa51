// SPDX-License-Identifier: Apache-2.0

// Package ldap connects the supervisor to upstream LDAP directories: it turns an
// LDAPIdentityProvider custom resource (docs/wire-contract.md §1.8) into a live Provider in an
// upstream.Registry, and implements the password login (user search, bind as the user,
// group search) and the refresh re-validation of §2.9 (re-read the user's entry by DN,
// search the groups again).
//
// ActiveDirectoryIdentityProviders share all of it: Config.ActiveDirectory adds the
// Active Directory defaults, the objectGUID subject, sAMAccountName@domain group names,
// the type "activedirectory" and the account checks on refresh (activedirectory.go),
// and ActiveDirectoryReconciler adds search bases from the root DSE and the
// SearchBaseFound condition (ad_reconciler.go).
//
// It owns how connections are secured (LDAPS or StartTLS, never a bind in plaintext),
// the search filters and the escaping of what users type into them, the mapping of
// entries to an upstream.Identity, the LDAP `sub` of §2.8, the format of
// Identity.UpstreamData for LDAP upstreams and the status of LDAPIdentityProvider and
// ActiveDirectoryIdentityProvider resources. It does not own login pages, downstream
// tokens, sessions or the FederationDomain's choice of provider.
//
// Nothing here logs or returns in errors a password, or the username a user typed (it
// may be a mistyped password).
package ldap
