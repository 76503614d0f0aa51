// SPDX-License-Identifier: Apache-2.0

// Package authenticator holds the concierge's live token authenticators: a Cache keyed by
// the (apiGroup, kind, name) a TokenCredentialRequest names, filled by the JWTAuthenticator
// and WebhookAuthenticator controllers in its subpackages and read by the credential
// request handler. It owns the lookup, not the authenticators' configuration.
package authenticator
