// SPDX-License-Identifier: Apache-2.0

package webhook

import (
	"context"
	"log/slog"
	"net/url"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator/internal/checks"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator/internal/engine"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator/internal/live"
)

// Kind is the kind of the resources this controller reconciles and of its cache keys.
const Kind = "WebhookAuthenticator"

// Reconciler reconciles WebhookAuthenticators into the authenticator cache. Set the
// exported fields before use; do not copy a Reconciler after first use.
type Reconciler struct {
	// Client reads WebhookAuthenticators, Secrets and ConfigMaps and writes status.
	Client client.Client
	// Cache receives the live authenticators of Ready WebhookAuthenticators.
	Cache *authenticator.Cache
	// APIGroup is the authentication API group with the install's suffix, used
	// in cache keys (e.g. "authentication.concierge.pinniped.dev").
	APIGroup string
	// Namespace is the concierge's namespace, where CA Secrets and ConfigMaps live.
	Namespace string
	// Clock returns the current time for condition timestamps; nil means time.Now.
	Clock func() time.Time
	// Log receives the controller's logs; nil means slog.Default().
	Log *slog.Logger

	once   sync.Once
	engine *engine.Engine[*authenticationv1alpha1.WebhookAuthenticator]
}

// SetupWithManager registers the reconciler with mgr, watching WebhookAuthenticators
// and the Secrets and ConfigMaps of Namespace that they name in spec.tls.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return r.init().Setup(mgr, "webhookauthenticator", r)
}

// Reconcile validates one WebhookAuthenticator, updates the cache and writes status
// (see engine.Engine.Reconcile for the retry rules).
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return r.init().Reconcile(ctx, req)
}

func (r *Reconciler) init() *engine.Engine[*authenticationv1alpha1.WebhookAuthenticator] {
	r.once.Do(func() {
		if r.Clock == nil {
			r.Clock = time.Now
		}
		if r.Log == nil {
			r.Log = slog.Default()
		}
		r.engine = &engine.Engine[*authenticationv1alpha1.WebhookAuthenticator]{
			Client: r.Client, Cache: r.Cache, APIGroup: r.APIGroup, Namespace: r.Namespace, Clock: r.Clock, Log: r.Log,
			Kind: engine.Kind[*authenticationv1alpha1.WebhookAuthenticator]{
				Name: Kind, LogKey: "webhookAuthenticator",
				New: func() *authenticationv1alpha1.WebhookAuthenticator {
					return &authenticationv1alpha1.WebhookAuthenticator{}
				},
				List: func(ctx context.Context, c client.Client) ([]*authenticationv1alpha1.WebhookAuthenticator, error) {
					var list authenticationv1alpha1.WebhookAuthenticatorList
					if err := c.List(ctx, &list); err != nil {
						return nil, err
					}
					items := make([]*authenticationv1alpha1.WebhookAuthenticator, len(list.Items))
					for i := range list.Items {
						items[i] = &list.Items[i]
					}
					return items, nil
				},
				TLS: func(o *authenticationv1alpha1.WebhookAuthenticator) *authenticationv1alpha1.TLSSpec {
					return o.Spec.TLS
				},
				Validate: func(ctx context.Context, o *authenticationv1alpha1.WebhookAuthenticator, key authenticator.Key) (*checks.List, *live.Entry) {
					v := r.validate(ctx, o, key)
					return &v.list, v.entry
				},
				SetStatus: func(o *authenticationv1alpha1.WebhookAuthenticator, ready bool) *[]metav1.Condition {
					o.Status.Phase = authenticationv1alpha1.WebhookAuthenticatorPhaseError
					if ready {
						o.Status.Phase = authenticationv1alpha1.WebhookAuthenticatorPhaseReady
					}
					return &o.Status.Conditions
				},
				Status: func(o *authenticationv1alpha1.WebhookAuthenticator) any { return o.Status },
				Describe: func(o *authenticationv1alpha1.WebhookAuthenticator) []any {
					return []any{"endpoint", redacted(o.Spec.Endpoint)}
				},
			},
		}
	})
	return r.engine
}

// requestsFor maps a Secret or ConfigMap to the WebhookAuthenticators that read their CA
// bundle from it.
func (r *Reconciler) requestsFor(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.init().RequestsFor(ctx, obj)
}

// redacted returns endpoint with any password replaced, for logging.
func redacted(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "<unparsable>"
	}
	return u.Redacted()
}
