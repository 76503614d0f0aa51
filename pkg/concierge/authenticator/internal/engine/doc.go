// SPDX-License-Identifier: Apache-2.0

// Package engine is the reconcile loop shared by the JWTAuthenticator and
// WebhookAuthenticator controllers: fetch the resource, validate it, store or remove its
// live authenticator, write phase and conditions, requeue with backoff, and map CA
// Secrets and ConfigMaps back to the resources that name them. Each controller supplies
// only what differs, as a Kind.
package engine
