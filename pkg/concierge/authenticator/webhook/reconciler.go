// SPDX-License-Identifier: Apache-2.0

package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator/internal/checks"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator/internal/live"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator/tlsconfig"
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
	// Logger receives the controller's logs; nil means slog.Default().
	Logger *slog.Logger

	once    sync.Once
	backoff *checks.Backoff
}

// SetupWithManager registers the reconciler with mgr, watching WebhookAuthenticators
// and the Secrets and ConfigMaps of Namespace that they name in spec.tls.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	inNamespace := builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetNamespace() == r.Namespace
	}))
	return ctrl.NewControllerManagedBy(mgr).
		Named("webhookauthenticator").
		For(&authenticationv1alpha1.WebhookAuthenticator{},
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.requestsFor), inNamespace).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.requestsFor), inNamespace).
		Complete(r)
}

// Reconcile validates one WebhookAuthenticator, updates the cache and writes status.
// Failures that may heal by themselves (network errors, what the remote server
// serves, errors reading a CA source) are validated again after a per-resource
// backoff growing from 1s to 5m; configuration errors wait for a change to the
// resource or to the Secret or ConfigMap it names.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	r.init()
	key := authenticator.Key{APIGroup: r.APIGroup, Kind: Kind, Name: req.Name}
	log := r.Logger.With("webhookAuthenticator", req.Name)

	var obj authenticationv1alpha1.WebhookAuthenticator
	if err := r.Client.Get(ctx, req.NamespacedName, &obj); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("get %s %s: %w", Kind, req.Name, err)
		}
		r.backoff.Reset(req.Name)
		if live.Remove(r.Cache, key) {
			log.InfoContext(ctx, "removed deleted authenticator from the cache")
		}
		return ctrl.Result{}, nil
	}
	if obj.DeletionTimestamp != nil {
		live.Remove(r.Cache, key)
		return ctrl.Result{}, nil
	}

	v := r.validate(ctx, &obj, key)
	switch live.Apply(r.Cache, key, v.list.OK(), v.entry) {
	case live.Removed:
		log.InfoContext(ctx, "removed invalid authenticator from the cache")
	case live.Stored:
		log.InfoContext(ctx, "stored authenticator in the cache", "endpoint", redacted(obj.Spec.Endpoint))
	}
	if err := r.updateStatus(ctx, &obj, &v.list); err != nil {
		return ctrl.Result{}, err
	}
	after := r.backoff.After(req.Name, &v.list)
	if after > 0 {
		log.InfoContext(ctx, "authenticator is not ready; will validate again", "after", after)
	}
	return ctrl.Result{RequeueAfter: after}, nil
}

func (r *Reconciler) init() {
	r.once.Do(func() {
		r.backoff = checks.NewBackoff()
		if r.Clock == nil {
			r.Clock = time.Now
		}
		if r.Logger == nil {
			r.Logger = slog.Default()
		}
	})
}

// updateStatus writes the phase and conditions of l when they differ from obj's.
func (r *Reconciler) updateStatus(ctx context.Context, obj *authenticationv1alpha1.WebhookAuthenticator, l *checks.List) error {
	updated := obj.DeepCopy()
	updated.Status.Phase = authenticationv1alpha1.WebhookAuthenticatorPhaseError
	if l.OK() {
		updated.Status.Phase = authenticationv1alpha1.WebhookAuthenticatorPhaseReady
	}
	checks.Apply(&updated.Status.Conditions, l.Conditions("the WebhookAuthenticator is ready"), obj.Generation, r.Clock())
	if equality.Semantic.DeepEqual(obj.Status, updated.Status) {
		return nil
	}
	if err := r.Client.Status().Update(ctx, updated); err != nil {
		return fmt.Errorf("update status of %s %s: %w", Kind, obj.Name, err)
	}
	return nil
}

// requestsFor maps a Secret or ConfigMap to the WebhookAuthenticators that read
// their CA bundle from it.
func (r *Reconciler) requestsFor(ctx context.Context, obj client.Object) []reconcile.Request {
	r.init()
	var list authenticationv1alpha1.WebhookAuthenticatorList
	if err := r.Client.List(ctx, &list); err != nil {
		r.Logger.ErrorContext(ctx, "list WebhookAuthenticators", "error", err)
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if tlsconfig.FromConcierge(list.Items[i].Spec.TLS).Refers(obj, r.Namespace) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: list.Items[i].Name}})
		}
	}
	return reqs
}

// redacted returns endpoint with any password replaced, for logging.
func redacted(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "<unparsable>"
	}
	return u.Redacted()
}
