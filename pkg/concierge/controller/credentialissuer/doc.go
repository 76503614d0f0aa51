// SPDX-License-Identifier: Apache-2.0

// Package credentialissuer keeps the install's CredentialIssuer (docs/wire-contract.md §1.3,
// §4.4) in step with the concierge's issuing strategies: it creates the object when
// missing and writes status.strategies, sorted as the contract requires, changing
// lastUpdateTime only when a strategy's state changes. Strategies report themselves
// through the Reporter interface; this package owns only the object.
package credentialissuer
