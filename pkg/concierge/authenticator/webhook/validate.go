// SPDX-License-Identifier: Apache-2.0

package webhook

import (
	"context"
	"net/url"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator/internal/checks"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator/internal/engine"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator/internal/live"
	"github.com/selkie-dev/selkie/pkg/tlsconfig"
)

// validation is the outcome of validating one WebhookAuthenticator.
type validation struct {
	list checks.List
	// entry is a newly built authenticator to store; nil when the resource is
	// invalid or the cached authenticator already matches its configuration.
	entry *live.Entry
}

// probe carries what each check learns to the checks after it.
type probe struct {
	spec        authenticationv1alpha1.WebhookAuthenticatorSpec
	endpoint    *url.URL
	proxy       *url.URL
	bundle      *tlsconfig.Bundle
	fingerprint string
	entry       *live.Entry
}

// validate runs every check of obj. The checks that reach the webhook run only
// when the configuration (spec and CA bundle) differs from the cached
// authenticator's: an unchanged, already validated configuration is not probed
// again, so that a flaky network does not evict a working authenticator.
func (r *Reconciler) validate(ctx context.Context, obj *authenticationv1alpha1.WebhookAuthenticator, key authenticator.Key) *validation {
	p := &probe{spec: *obj.Spec.DeepCopy()}
	v := &validation{}
	v.list.Run(ctx,
		checks.Check{
			Type:        authenticationv1alpha1.ConditionEndpointURLValid,
			Success:     "spec.endpoint is a valid URL",
			Independent: true,
			Run:         p.checkEndpoint,
		},
		checks.TLS(r.Client, r.Namespace, obj.Spec.TLS, &p.bundle),
	)
	remote := p.remoteChecks()
	fp, unchanged := engine.Unchanged(&v.list, r.Cache, key, p.spec, p.bundle)
	if unchanged {
		r.Log.DebugContext(ctx, "configuration unchanged; keeping the cached authenticator", "webhookAuthenticator", obj.Name)
		v.list.Pass(remote...)
		return v
	}
	p.fingerprint = fp
	v.list.Run(ctx, remote...)
	v.entry = p.entry
	return v
}

// remoteChecks are the checks that contact the webhook or build its client, in order.
func (p *probe) remoteChecks() []checks.Check {
	return []checks.Check{
		{Type: authenticationv1alpha1.ConditionWebhookConnectionValid, Success: "successfully dialed the webhook server", Run: p.dial},
		{Type: authenticationv1alpha1.ConditionAuthenticatorValid, Success: "authenticator initialized", Run: p.build},
	}
}
