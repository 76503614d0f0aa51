// SPDX-License-Identifier: Apache-2.0

package servermetrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a login (SupervisorLogins).
const (
	// LoginSuccess: the login ended with an authorization code or an approved device.
	LoginSuccess = "success"
	// LoginFailure: the identity provider refused the credentials or the login.
	LoginFailure = "failure"
	// LoginRejected: the FederationDomain's identity policy rejected the user.
	LoginRejected = "rejected"
	// LoginError: the identity provider could not be asked, or the session could not be
	// stored.
	LoginError = "error"
)

// Outcomes of a refresh (SupervisorRefreshes).
const (
	RefreshSuccess = "success"
	// RefreshInvalid: the refresh token was unknown, replayed or expired; the identity
	// provider was not asked.
	RefreshInvalid = "invalid"
	// RefreshUpstreamFailure: the identity provider no longer vouches for the user (or
	// could not be asked), so the session ends.
	RefreshUpstreamFailure = "upstream_failure"
	// RefreshError: the refreshed session could not be stored.
	RefreshError = "error"
)

// Operations of upstream calls (UpstreamDuration).
const (
	UpstreamPasswordLogin = "password_login"
	UpstreamCodeExchange  = "code_exchange"
	UpstreamRefresh       = "refresh"
)

// Generic outcomes.
const (
	Success = "success"
	Failure = "failure"
)

var (
	// SupervisorLogins counts logins that reached an identity provider or its policy.
	SupervisorLogins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "selkie", Subsystem: "supervisor", Name: "logins_total",
		Help: "Logins by FederationDomain, identity provider, flow (browser_authcode, cli_password) and outcome (success, failure, rejected, error).",
	}, []string{"federation_domain", "identity_provider", "identity_provider_type", "flow", "outcome"})

	// SupervisorRefreshes counts refresh grants.
	SupervisorRefreshes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "selkie", Subsystem: "supervisor", Name: "refreshes_total",
		Help: "Refresh grants by FederationDomain, identity provider and outcome (success, invalid, upstream_failure, error).",
	}, []string{"federation_domain", "identity_provider", "identity_provider_type", "outcome"})

	// SupervisorTokenExchanges counts RFC 8693 token exchanges.
	SupervisorTokenExchanges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "selkie", Subsystem: "supervisor", Name: "token_exchanges_total",
		Help: "Token exchanges for cluster-scoped ID tokens by FederationDomain and outcome (success, failure).",
	}, []string{"federation_domain", "outcome"})

	// UpstreamDuration times the calls to identity providers.
	UpstreamDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "selkie", Subsystem: "supervisor", Name: "upstream_request_duration_seconds",
		Help:    "Time of calls to identity providers by provider, operation (password_login, code_exchange, refresh) and outcome (success, failure).",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"identity_provider", "identity_provider_type", "operation", "outcome"})

	// Sessions is the number of stored sessions, counted at each garbage collection round.
	Sessions = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "selkie", Subsystem: "supervisor", Name: "sessions",
		Help: "Sessions stored (logins not yet ended or expired), counted at each session garbage collection round.",
	})

	// SigningKeyRotations counts signing keys that became active.
	SigningKeyRotations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "selkie", Subsystem: "supervisor", Name: "signing_key_rotations_total",
		Help: "Signing keys this replica made active (scheduled rotations and rotation requests), by FederationDomain.",
	}, []string{"federation_domain"})

	// RateLimited counts requests answered 429 by a rate limit.
	RateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "selkie", Subsystem: "supervisor", Name: "rate_limited_requests_total",
		Help: "Requests answered 429 by a rate limit, by limit (requests, password-failures-per-address, password-failures-per-username, device-authorizations, pending-device-logins, user-code-failures, client-secret-failures, client-secret-comparisons).",
	}, []string{"limit"})

	// IdentityProviderReady is 1 for each identity provider that is ready, 0 otherwise.
	IdentityProviderReady = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "selkie", Subsystem: "supervisor", Name: "identity_provider_ready",
		Help: "1 when the identity provider passed its validation and serves logins, 0 when not, by kind and name.",
	}, []string{"kind", "name"})
)

// RegisterSupervisor adds the supervisor's metrics to Registry.
func RegisterSupervisor() error {
	return register(SupervisorLogins, SupervisorRefreshes, SupervisorTokenExchanges, UpstreamDuration, Sessions,
		SigningKeyRotations, RateLimited, IdentityProviderReady)
}

// ObserveUpstream records a call to an identity provider that began at start.
func ObserveUpstream(idp, idpType, operation string, start time.Time, err error) {
	outcome := Success
	if err != nil {
		outcome = Failure
	}
	UpstreamDuration.WithLabelValues(idp, idpType, operation, outcome).Observe(time.Since(start).Seconds())
}
