// SPDX-License-Identifier: Apache-2.0

// Package live wraps the live token authenticators that the authenticator
// controllers put in the concierge's authenticator.Cache: each Entry remembers a
// fingerprint of the configuration and CA bundle it was built from, so that
// controllers rebuild only when one of them changes, and releases its
// resources when it is replaced or removed.
//
// It owns the cache entries; it does not decide when an authenticator is valid.
package live
