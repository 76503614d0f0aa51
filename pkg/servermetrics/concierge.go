// SPDX-License-Identifier: Apache-2.0

package servermetrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a TokenCredentialRequest failed (ConciergeTokenCredentialRequests); ReasonNone
// for a success.
const (
	ReasonNone                  = "none"
	ReasonAuthenticatorNotFound = "authenticator_not_found"
	ReasonTokenRejected         = "token_rejected"
	ReasonReservedIdentity      = "reserved_identity"
	ReasonUnsupportedUser       = "unsupported_user"
	ReasonIssueFailed           = "issue_failed"
	ReasonRateLimited           = "rate_limited"
)

var (
	// TokenCredentialRequests counts TokenCredentialRequests.
	TokenCredentialRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "selkie", Subsystem: "concierge", Name: "token_credential_requests_total",
		Help: "TokenCredentialRequests by authenticator (kind and name; empty when the request named none that is ready), outcome (success, failure) and reason (none, authenticator_not_found, token_rejected, reserved_identity, unsupported_user, issue_failed, rate_limited).",
	}, []string{"authenticator_kind", "authenticator", "outcome", "reason"})

	// CertificatesIssued counts client certificates by issuing strategy.
	CertificatesIssued = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "selkie", Subsystem: "concierge", Name: "certificates_issued_total",
		Help: "Client certificates issued, by strategy (KubeClusterSigningCertificate, KubeCSRSigningCertificate, ImpersonationProxy).",
	}, []string{"strategy"})

	// ProxyRequests counts the impersonation proxy's requests.
	ProxyRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "selkie", Subsystem: "concierge", Name: "impersonation_proxy_requests_total",
		Help: "Requests answered by the impersonation proxy, by Kubernetes verb and HTTP status code.",
	}, []string{"verb", "code"})

	// ProxyDuration times the impersonation proxy's requests, long-running ones (watch,
	// exec, attach, port-forward, log follow) excepted.
	ProxyDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "selkie", Subsystem: "concierge", Name: "impersonation_proxy_request_duration_seconds",
		Help:    "Time from a request's arrival at the impersonation proxy to the end of its response, by Kubernetes verb; long-running requests (watches, streams) are not included.",
		Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"verb"})

	// AuthenticatorReady is 1 for each authenticator that is ready, 0 otherwise.
	AuthenticatorReady = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "selkie", Subsystem: "concierge", Name: "authenticator_ready",
		Help: "1 when the authenticator passed its validation and serves TokenCredentialRequests, 0 when not, by kind and name.",
	}, []string{"kind", "name"})
)

// RegisterConcierge adds the concierge's metrics to Registry.
func RegisterConcierge() error {
	return register(TokenCredentialRequests, CertificatesIssued, ProxyRequests, ProxyDuration, AuthenticatorReady)
}
