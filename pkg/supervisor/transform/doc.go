// SPDX-License-Identifier: Apache-2.0

// Package transform compiles and runs the identity transforms of one identity provider
// in a FederationDomain (spec.identityProviders[].transforms, docs/wire-contract.md §1.6): CEL
// policies and username and groups mappings over the upstream identity, with the
// constants they reference, and the examples that check them.
//
// A Pipeline is compiled once and is safe for concurrent use. Every expression has a
// cost limit and every evaluation a time limit, so that an expression, however written,
// cannot stall the supervisor.
//
// It does not decide what a rejection or an error means for a login (oidcprovider), nor
// which identity providers a FederationDomain serves (federationdomain).
package transform
