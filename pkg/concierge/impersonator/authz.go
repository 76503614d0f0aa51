// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apiserver/pkg/authorization/authorizer"
	authorizationcel "k8s.io/apiserver/pkg/authorization/cel"
	"k8s.io/apiserver/plugin/pkg/authorizer/webhook"
	webhookmetrics "k8s.io/apiserver/plugin/pkg/authorizer/webhook/metrics"
)

// newAuthorizer asks the API server, by SubjectAccessReview, whether the requesting user
// may do what it asks, including each impersonation step of nested impersonation.
func newAuthorizer(cfg *Config) (authorizer.UnconditionalAuthorizer, error) {
	// The webhook authorizer's own cache is off (its TTLs are zero): cachedAuthorizer
	// remembers the answers instead, with the same lifetimes.
	sar, err := webhook.NewFromInterface(cfg.Kube.AuthorizationV1(), 0, 0, webhookBackoff(),
		authorizer.DecisionNoOpinion, webhookmetrics.NoopAuthorizerMetrics{}, authorizationcel.NewDefaultCompiler())
	if err != nil {
		return nil, fmt.Errorf("subject access review authorizer: %w", err)
	}
	cached := newCachedAuthorizer(sar, authzAllowTTL, authzDenyTTL, time.Now)
	return &reasonAuthorizer{delegate: cached, by: "decision made by impersonation-proxy.concierge." + cfg.APIGroupSuffix}, nil
}

// reasonAuthorizer denies requests without a verb (an unparsed request must never pass)
// and signs every reason, so that a denial can be told apart from one by the API server.
type reasonAuthorizer struct {
	delegate authorizer.UnconditionalAuthorizer
	by       string
}

// Authorize delegates a to the API server and appends the proxy's mark to the reason.
func (a *reasonAuthorizer) Authorize(ctx context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	if attrs.GetVerb() == "" {
		return authorizer.DecisionDeny, "invalid verb, " + a.by, nil
	}
	decision, reason, err := a.delegate.Authorize(ctx, attrs)
	if reason == "" {
		return decision, a.by, err
	}
	return decision, reason + ", " + a.by, err
}
