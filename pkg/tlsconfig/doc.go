// SPDX-License-Identifier: Apache-2.0

// Package tlsconfig turns a TLSSpec (docs/wire-contract.md §1, "TLSSpec") into the trust
// roots used to reach a remote endpoint: an inline base64 PEM bundle, a PEM
// bundle read from a Secret or ConfigMap in the server's own namespace, or the
// system roots when neither is set. It also builds HTTP clients and TLS
// configurations from those roots and tells watchers which objects a spec refers
// to, so that controllers can reload when a referenced object changes.
//
// It owns reading and checking CA bundles; it does not own conditions or
// reasons (callers report errors as TLSConfigurationValid / InvalidTLSConfig).
// Spec is kind-neutral so that the supervisor's identity providers can use the
// same rules.
package tlsconfig
