// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/selkie-dev/selkie/pkg/apis/suffix"
	"github.com/selkie-dev/selkie/pkg/certauthority"
	"github.com/selkie-dev/selkie/pkg/logfingerprint"
	"github.com/selkie-dev/selkie/pkg/ratelimit"
)

// Config is what New needs.
type Config struct {
	// Upstream locates the real API server: Host and the TLS settings that verify it (CA,
	// server name). Any credentials in it are ignored; upstream, the proxy authenticates
	// only with ProxyToken, or with the caller's own token for identities with a UID.
	Upstream *rest.Config
	// Kube reviews tokens (TokenReview), authorizes requests (SubjectAccessReview) and
	// follows the API server's client CA (get, list and watch on the ConfigMap
	// kube-system/extension-apiserver-authentication). Answers are cached for 10
	// seconds; the client's rate limit (rest.Config QPS and Burst) bounds the rest.
	Kube kubernetes.Interface
	// ProxyToken returns the bearer token the proxy sends with Impersonate-* headers,
	// typically a TokenRequest token of a ServiceAccount that may only impersonate users,
	// groups, serviceaccounts and userextras. It is called for every forwarded request,
	// so it should return a cached token.
	ProxyToken func(ctx context.Context) (string, error)
	// SignerCA issues the client certificates only this proxy trusts (§4.1). It may be
	// nil; SetSignerCA replaces it while the proxy runs.
	SignerCA *certauthority.CA
	// PreviousSignerCA is the CA SignerCA replaced, trusted too while certificates it
	// issued may still be in use; nil if none.
	PreviousSignerCA *certauthority.CA
	// APIGroupSuffix names the install (default "selkie.dev"): denial reasons end in
	// "decision made by impersonation-proxy.concierge.<suffix>" and extra keys ending in
	// ".impersonation-proxy.concierge.<suffix>" are reserved.
	APIGroupSuffix string
	// RequestTimeout bounds every request that is not long-running (default 60s).
	// Watches, proxy, attach, exec, log and port-forward requests have no timeout.
	RequestTimeout time.Duration
	// TokenFailures limits, per client address, bearer tokens that fail their
	// TokenReview: past the burst, a request with a bearer token is answered 429 without
	// a review, so random tokens cannot keep the API server busy. Zero: no limit.
	TokenFailures ratelimit.Rule
	// JWTAuthenticators, when set, also authenticate bearer JWTs that the API server's
	// TokenReview does not accept, choosing by the token's issuer: a web console's ID
	// token reaches a cluster whose API server does not know the issuer.
	JWTAuthenticators JWTAuthenticators
	// Fingerprint identifies tokens in log lines (a keyed hash); nil uses a random key.
	Fingerprint func(token string) string
	// LogUserInfo puts usernames and groups in the per-request log lines; off, they are
	// redacted.
	LogUserInfo bool
	// Log receives the proxy's logs; nil discards them.
	Log *slog.Logger
}

// Defaults and fixed parameters.
const (
	DefaultRequestTimeout = 60 * time.Second

	// flushInterval bounds how long a streamed response (a watch) may sit in the proxy.
	flushInterval = 200 * time.Millisecond
	// Authentication and authorization answers are cached as kube-apiserver's delegated
	// authenticator and authorizer cache them by default.
	tokenCacheTTL    = 10 * time.Second
	authzAllowTTL    = 10 * time.Second
	authzDenyTTL     = 10 * time.Second
	webhookTimeout   = 10 * time.Second
	clientCAWaitTime = 10 * time.Second
	// requestIOGrace lets a bounded request's answer be written after its timeout fires.
	requestIOGrace = 5 * time.Second
)

// webhookBackoff is kube-apiserver's default retry schedule for delegated TokenReviews and
// SubjectAccessReviews.
func webhookBackoff() wait.Backoff {
	return wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}
}

// complete checks cfg, fills in defaults and returns the upstream URL.
func (cfg *Config) complete() (*url.URL, error) {
	if cfg.Upstream == nil || cfg.Upstream.Host == "" {
		return nil, errors.New("impersonation proxy needs the upstream API server's address")
	}
	if cfg.Kube == nil {
		return nil, errors.New("impersonation proxy needs a Kubernetes client")
	}
	if cfg.ProxyToken == nil {
		return nil, errors.New("impersonation proxy needs a source for its ServiceAccount token")
	}
	if cfg.APIGroupSuffix == "" {
		cfg.APIGroupSuffix = suffix.Default
	}
	if err := suffix.Validate(cfg.APIGroupSuffix); err != nil {
		return nil, err
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Fingerprint == nil {
		cfg.Fingerprint = logfingerprint.Random().Of
	}
	host, err := url.Parse(cfg.Upstream.Host)
	if err != nil {
		return nil, fmt.Errorf("upstream API server address: %w", err)
	}
	if host.Scheme != "https" || host.Host == "" {
		return nil, fmt.Errorf("upstream API server address %q must be an https URL", cfg.Upstream.Host)
	}
	return host, nil
}
