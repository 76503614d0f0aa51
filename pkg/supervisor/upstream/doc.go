// SPDX-License-Identifier: Apache-2.0

// Package upstream defines how the supervisor talks to the identity providers it
// federates: a marker interface for every IdP plus capability interfaces (browser redirect,
// password, refresh, revocation) in the shape of dex's connectors, and the Identity value
// they return. Each IdP type lives in its own subpackage (oidc, and later ldap and github)
// with a controller that turns its custom resource into a live Provider in a Registry.
//
// The package does not run login flows, mint tokens or store sessions: the
// FederationDomain's provider does that, through these interfaces only.
package upstream
