// SPDX-License-Identifier: Apache-2.0

// Package testtls starts httptest TLS servers whose certificates come from a
// fresh test CA, so that tests of the authenticator controllers can tell a
// trusted CA bundle from an untrusted one. It is for tests only.
package testtls
