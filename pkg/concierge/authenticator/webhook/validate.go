// SPDX-License-Identifier: Apache-2.0

package webhook

import (
	"context"
	"net/url"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator"
	"github.com/selkie-dev/selkie/pkg/internal/engine"
)

// probe carries what each check learns to the checks after it.
type probe struct {
	authenticator.Probe[authenticationv1alpha1.WebhookAuthenticatorSpec]
	endpoint *url.URL
	proxy    *url.URL
}

// validate runs every check of obj. The checks that reach the webhook run only
// when the configuration (spec and CA bundle) differs from the cached
// authenticator's: an unchanged, already validated configuration is not probed
// again, so that a flaky network does not evict a working authenticator.
func (r *Reconciler) validate(ctx context.Context, obj *authenticationv1alpha1.WebhookAuthenticator, current *engine.Current[authenticator.Token]) (*engine.Validation[authenticator.Token], error) {
	p := &probe{Probe: authenticator.Probe[authenticationv1alpha1.WebhookAuthenticatorSpec]{Spec: *obj.Spec.DeepCopy()}}
	first := engine.Check{
		Type:        authenticationv1alpha1.ConditionEndpointURLValid,
		Success:     "spec.endpoint is a valid URL",
		Independent: true,
		Run:         p.checkEndpoint,
	}
	return authenticator.ValidateProbe(ctx, r.ControllerConfig, Kind, obj.Name, current, &p.Probe, []engine.Check{first}, obj.Spec.TLS, p.remoteChecks()), nil
}

// remoteChecks are the checks that contact the webhook or build its client, in order.
func (p *probe) remoteChecks() []engine.Check {
	return []engine.Check{
		{Type: authenticationv1alpha1.ConditionWebhookConnectionValid, Success: "successfully dialed the webhook server", Run: p.dial},
		{Type: authenticationv1alpha1.ConditionAuthenticatorValid, Success: "authenticator initialized", Run: p.build},
	}
}
