// SPDX-License-Identifier: Apache-2.0

// Package webhook is the WebhookAuthenticator controller of the concierge (wire
// contract §1.2). For each WebhookAuthenticator it checks spec.endpoint, loads
// spec.tls, dials the endpoint, and builds a live token authenticator with
// k8s.io/apiserver's webhook token authenticator, which POSTs an
// authentication.k8s.io/v1beta1 TokenReview without audiences. It keeps that
// authenticator in the concierge's authenticator.Cache while, and only while,
// the resource is Ready, reports each step as a status condition, and reloads
// when a referenced CA Secret or ConfigMap changes.
//
// It owns the WebhookAuthenticator status and its cache entries; it does not
// serve TokenCredentialRequests, which read the cache.
package webhook
