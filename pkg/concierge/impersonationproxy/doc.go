// SPDX-License-Identifier: Apache-2.0

// Package impersonationproxy runs the concierge's impersonation proxy (package
// impersonator, docs/wire-contract.md §4.3) inside the concierge: it decides from the
// CredentialIssuer's spec.impersonationProxy whether the proxy runs on this replica,
// keeps its Service, serving certificate and signer CA (in Secrets shared by the
// replicas) current, provides its ServiceAccount token, offers the signer CA as the last
// issuing strategy (§4.1) and reports the ImpersonationProxy strategy (§4.4).
package impersonationproxy
