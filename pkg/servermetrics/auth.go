// SPDX-License-Identifier: Apache-2.0

package servermetrics

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/apis/apiserver"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	authenticationv1 "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authorizationv1 "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// reviewBackoff retries a TokenReview or SubjectAccessReview that failed to reach the API
// server, as Kubernetes' delegated authentication does.
func reviewBackoff() *wait.Backoff {
	return &wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}
}

// delegatedAuth returns the metrics server's filter: the caller must present a bearer
// token that a TokenReview accepts, and a SubjectAccessReview must allow it the request's
// verb on its path. A token that is not accepted is 401 whatever the reason, with the reason logged
// at debug (a scrape with an expired token is routine); a denial is 403; a review that
// could not be made is 503. Results are cached briefly, so a scrape every few seconds
// costs the API server nothing more.
func delegatedAuth(log *slog.Logger) func(*rest.Config, *http.Client) (metricsserver.Filter, error) {
	return func(cfg *rest.Config, client *http.Client) (metricsserver.Filter, error) {
		tokenReviews, err := authenticationv1.NewForConfigAndClient(cfg, client)
		if err != nil {
			return nil, err
		}
		accessReviews, err := authorizationv1.NewForConfigAndClient(cfg, client)
		if err != nil {
			return nil, err
		}
		authn, _, err := authenticatorfactory.DelegatingAuthenticatorConfig{
			Anonymous:               &apiserver.AnonymousAuthConfig{Enabled: false},
			TokenAccessReviewClient: tokenReviews, TokenAccessReviewTimeout: 10 * time.Second,
			CacheTTL: time.Minute, WebhookRetryBackoff: reviewBackoff(),
		}.New()
		if err != nil {
			return nil, err
		}
		authz, err := authorizerfactory.DelegatingAuthorizerConfig{
			SubjectAccessReviewClient: accessReviews,
			AllowCacheTTL:             time.Minute, DenyCacheTTL: 10 * time.Second, WebhookRetryBackoff: reviewBackoff(),
		}.New()
		if err != nil {
			return nil, err
		}
		return func(_ logr.Logger, next http.Handler) (http.Handler, error) {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				res, ok, err := authn.AuthenticateRequest(r)
				if err != nil || !ok {
					if err == nil {
						err = errors.New("the token was not accepted")
					}
					log.DebugContext(r.Context(), "metrics scrape not authenticated", "error", err)
					http.Error(w, "Unauthorized", http.StatusUnauthorized)
					return
				}
				decision, reason, err := authz.Authorize(r.Context(), authorizer.AttributesRecord{
					User: res.User, Verb: strings.ToLower(r.Method), Path: r.URL.Path})
				switch {
				case err != nil:
					log.ErrorContext(r.Context(), "could not authorize a metrics scrape", "error", err)
					http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
				case decision != authorizer.DecisionAllow:
					log.DebugContext(r.Context(), "metrics scrape forbidden", "user", res.User.GetName(), "reason", reason)
					http.Error(w, "Forbidden", http.StatusForbidden)
				default:
					next.ServeHTTP(w, r)
				}
			}), nil
		}, nil
	}
}
