// SPDX-License-Identifier: Apache-2.0

// Package suffix registers Selkie's CRD kinds in a runtime.Scheme under the API
// groups of one install's group suffix (docs/wire-contract.md §0.1): with suffix
// "pinniped.dev" a JWTAuthenticator is
// authentication.concierge.pinniped.dev/v1alpha1, with the default "selkie.dev"
// it keeps the groups declared by the API packages.
//
// It owns suffix validation and the group renaming for the CRD groups
// (authentication.concierge, config.concierge, config.supervisor,
// idp.supervisor). It does not register the aggregated API groups (login,
// identity, clientsecret, session), which their servers install themselves.
package suffix
