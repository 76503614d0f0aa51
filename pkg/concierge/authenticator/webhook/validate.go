// SPDX-License-Identifier: Apache-2.0

package webhook

import (
	"context"
	"net/url"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator"
	"github.com/selkie-dev/selkie/pkg/internal/engine"
	"github.com/selkie-dev/selkie/pkg/tlsconfig"
)

// probe carries what each check learns to the checks after it.
type probe struct {
	spec     authenticationv1alpha1.WebhookAuthenticatorSpec
	endpoint *url.URL
	proxy    *url.URL
	bundle   *tlsconfig.Bundle
	built    authenticator.Token
}

// validate runs every check of obj. The checks that reach the webhook run only
// when the configuration (spec and CA bundle) differs from the cached
// authenticator's: an unchanged, already validated configuration is not probed
// again, so that a flaky network does not evict a working authenticator.
func (r *Reconciler) validate(ctx context.Context, obj *authenticationv1alpha1.WebhookAuthenticator, current *engine.Current[authenticator.Token]) (*engine.Validation[authenticator.Token], error) {
	p := &probe{spec: *obj.Spec.DeepCopy()}
	return r.Validate(ctx, Kind, obj.Name, current, authenticator.Plan{
		Local: []engine.Check{
			{
				Type:        authenticationv1alpha1.ConditionEndpointURLValid,
				Success:     "spec.endpoint is a valid URL",
				Independent: true,
				Run:         p.checkEndpoint,
			},
			authenticator.TLSCheck(r.Client, r.Namespace, obj.Spec.TLS, &p.bundle),
		},
		Remote:      p.remoteChecks(),
		Fingerprint: func() string { return authenticator.Fingerprint(p.spec, p.bundle) },
		Built:       func() authenticator.Token { return p.built },
	}), nil
}

// remoteChecks are the checks that contact the webhook or build its client, in order.
func (p *probe) remoteChecks() []engine.Check {
	return []engine.Check{
		{Type: authenticationv1alpha1.ConditionWebhookConnectionValid, Success: "successfully dialed the webhook server", Run: p.dial},
		{Type: authenticationv1alpha1.ConditionAuthenticatorValid, Success: "authenticator initialized", Run: p.build},
	}
}
