// SPDX-License-Identifier: Apache-2.0

// Package impersonator is the concierge's impersonation proxy (docs/wire-contract.md §4.3) as a
// library: an http.Handler, and a TLS server around it, that authenticates clients the way
// kube-apiserver would, authorizes every request with a SubjectAccessReview as the
// requesting user, and forwards it to the real API server under the proxy's own
// ServiceAccount token with Impersonate-* headers naming that user.
//
// Authentication unions client certificates signed by the proxy's signer CA or by the API
// server's client CA (kube-system/extension-apiserver-authentication, key client-ca-file,
// followed live) and bearer tokens checked by TokenReview and, when the API server does
// not accept one, by the concierge's JWTAuthenticators that trust the issuer the token
// names (Config.JWTAuthenticators: a web console's ID token on a cluster whose API server
// does not know the issuer). A request with no credentials
// is forwarded as it came, without the proxy's identity, so that the API server applies
// its own anonymous policy (per path, if it restricts anonymous access); only anonymous
// TokenCredentialRequests go through the proxy's own chain, so clients can log in. Client
// Impersonate-* headers get Kubernetes semantics (SubjectAccessReviews on verb
// impersonate) and the authenticated requester travels upstream in the reserved extra
// original-user-info.impersonation-proxy.concierge.pinniped.dev. Identities with a UID,
// which impersonation cannot express, are served by passing the caller's own bearer token
// through once a TokenReview confirms it names the same user. Verified client certificate
// chains are remembered (at most a minute, never past expiry, forgotten when a CA
// changes) so that the costly signature check does not run on every request.
//
// The package owns request handling only. The caller provides, and keeps current, the
// proxy's ServiceAccount token (Config.ProxyToken), the signer CA (Config.SignerCA and
// Proxy.SetSignerCA; persisting and rotating it is the caller's job), the serving
// certificate, the listener, and the decision whether the proxy runs at all.
//
// Logging: one debug line per request with method, path, verb, status and duration;
// usernames and groups only with Config.LogUserInfo; tokens never, except as the keyed
// fingerprint in the info line of a bearer JWT its issuer's JWTAuthenticators refused.
package impersonator
