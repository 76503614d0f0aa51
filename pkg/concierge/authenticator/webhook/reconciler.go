// SPDX-License-Identifier: Apache-2.0

package webhook

import (
	"context"
	"net/url"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator"
	"github.com/selkie-dev/selkie/pkg/internal/engine"
	"github.com/selkie-dev/selkie/pkg/tlsconfig"
)

// Kind is the kind of the resources this controller reconciles and of its cache keys.
const Kind = "WebhookAuthenticator"

type webhookEngine = engine.Engine[*authenticationv1alpha1.WebhookAuthenticator, authenticator.Key, authenticator.Token]

// Reconciler reconciles WebhookAuthenticators into the authenticator cache.
type Reconciler struct {
	authenticator.ControllerConfig
	engine *webhookEngine
}

// NewReconciler returns a Reconciler; the config's Clock and Log may be nil.
func NewReconciler(cfg authenticator.ControllerConfig) *Reconciler {
	r := &Reconciler{ControllerConfig: cfg.WithDefaults()}
	r.engine = engine.New(engine.Kind[*authenticationv1alpha1.WebhookAuthenticator, authenticator.Key, authenticator.Token]{
		Name:         Kind,
		Controller:   "webhookauthenticator",
		Noun:         "webhook authenticator",
		LogAttrs:     []any{"kind", Kind},
		ReadyMessage: "the " + Kind + " is ready",
		Key:          r.KeyFunc(Kind),
		Objects: engine.ObjectsOf(func(l *authenticationv1alpha1.WebhookAuthenticatorList) []authenticationv1alpha1.WebhookAuthenticator {
			return l.Items
		}),
		Validate: r.validate,
		Describe: func(o *authenticationv1alpha1.WebhookAuthenticator, _ authenticator.Token) []any {
			return []any{"endpoint", redacted(o.Spec.Endpoint)}
		},
		SetStatus: engine.Phase(authenticationv1alpha1.WebhookAuthenticatorPhaseReady, authenticationv1alpha1.WebhookAuthenticatorPhaseError, func(o *authenticationv1alpha1.WebhookAuthenticator) (*authenticationv1alpha1.WebhookAuthenticatorPhase, *[]metav1.Condition) {
			return &o.Status.Phase, &o.Status.Conditions
		}),
		Status: func(o *authenticationv1alpha1.WebhookAuthenticator) any { return o.Status },
		References: func(o *authenticationv1alpha1.WebhookAuthenticator) (string, tlsconfig.Spec) {
			return "", tlsconfig.FromConcierge(o.Spec.TLS)
		},
	}, r.EngineConfig())
	return r
}

// SetupWithManager registers the reconciler with mgr, watching WebhookAuthenticators
// and the Secrets and ConfigMaps of Namespace that they name in spec.tls.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error { return r.engine.Setup(mgr) }

// Reconcile validates one WebhookAuthenticator, updates the cache and writes status
// (see engine.Engine.Reconcile for the retry rules).
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return r.engine.Reconcile(ctx, req)
}

// requestsFor maps a Secret or ConfigMap to the WebhookAuthenticators that read their CA
// bundle from it.
func (r *Reconciler) requestsFor(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.engine.RequestsFor(ctx, obj)
}

// redacted returns endpoint with any password replaced, for logging.
func redacted(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "<unparsable>"
	}
	return u.Redacted()
}
