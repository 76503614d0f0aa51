// SPDX-License-Identifier: Apache-2.0

package github

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// DefaultHTTPTimeout bounds each request to an upstream when Reconciler.HTTPTimeout is zero.
const DefaultHTTPTimeout = 30 * time.Second

// Reconciler reconciles the GitHubIdentityProviders of the supervisor's namespace
// into a Registry and writes their status (wire contract §1.9). The API group is
// whatever the manager's scheme maps the idp types to (see suffix.AddToScheme).
// Set the exported fields before use; do not copy a Reconciler after first use.
type Reconciler struct {
	// Client reads GitHubIdentityProviders, Secrets and ConfigMaps and writes status.
	Client client.Client
	// Registry receives the providers of Ready GitHubIdentityProviders.
	Registry *upstream.Registry
	// Namespace is the supervisor's namespace; resources elsewhere are ignored.
	Namespace string
	// Clock returns the current time, for conditions; nil means time.Now.
	Clock func() time.Time
	// Logger receives the controller's logs (never secrets); nil means slog.Default().
	Logger *slog.Logger
	// HTTPTimeout bounds the connection check and each later GitHub request; zero means DefaultHTTPTimeout.
	HTTPTimeout time.Duration

	once    sync.Once
	backoff workqueue.TypedRateLimiter[string]
}

func (r *Reconciler) init() {
	r.once.Do(func() {
		if r.Clock == nil {
			r.Clock = time.Now
		}
		if r.Logger == nil {
			r.Logger = slog.Default()
		}
		if r.HTTPTimeout == 0 {
			r.HTTPTimeout = DefaultHTTPTimeout
		}
		r.backoff = workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, 5*time.Minute)
	})
}

// SetupWithManager registers the reconciler with mgr, watching the
// GitHubIdentityProviders of Namespace and the Secrets and ConfigMaps they name
// (client credentials and CA bundles). The manager's cache should be limited to
// Namespace.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.init()
	inNamespace := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetNamespace() == r.Namespace })
	return ctrl.NewControllerManagedBy(mgr).
		Named("githubidentityprovider").
		For(&idpv1alpha1.GitHubIdentityProvider{}, builder.WithPredicates(predicate.GenerationChangedPredicate{}, inNamespace)).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.RequestsFor), builder.WithPredicates(inNamespace)).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.RequestsFor), builder.WithPredicates(inNamespace)).
		Complete(r)
}

// Reconcile validates one GitHubIdentityProvider, stores its provider in the
// registry when it is Ready and removes it at once otherwise, and writes status.
// A failed connection check is retried after a per-resource backoff growing from 1s to
// 5m; configuration errors wait for a change to the resource or to an object it names.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	r.init()
	if req.Namespace != r.Namespace {
		return ctrl.Result{}, nil
	}
	key := upstream.Key{Kind: upstream.KindGitHub, Name: req.Name}
	log := r.Logger.With("idp", req.Name, "namespace", req.Namespace)

	idp := &idpv1alpha1.GitHubIdentityProvider{}
	if err := r.Client.Get(ctx, req.NamespacedName, idp); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("get GitHubIdentityProvider %s: %w", req.Name, err)
		}
		r.backoff.Forget(req.Name)
		r.remove(ctx, log, key, "deleted")
		return ctrl.Result{}, nil
	}
	if idp.DeletionTimestamp != nil {
		r.remove(ctx, log, key, "deleted")
		return ctrl.Result{}, nil
	}

	v, err := r.validate(ctx, idp)
	if err != nil {
		return ctrl.Result{}, err
	}
	switch {
	case !v.ok:
		r.remove(ctx, log, key, "not ready")
	case v.provider != nil:
		r.Registry.Set(key, v.provider)
		log.InfoContext(ctx, "stored GitHub identity provider", "host", idp.Spec.GitHubAPI.Host, "flows", v.provider.Flows())
	}
	if err := r.updateStatus(ctx, idp, v); err != nil {
		return ctrl.Result{}, err
	}
	if !v.retry {
		r.backoff.Forget(req.Name)
		return ctrl.Result{}, nil
	}
	after := r.backoff.When(req.Name)
	log.InfoContext(ctx, "GitHub identity provider is not ready; will validate again", "after", after)
	return ctrl.Result{RequeueAfter: after}, nil
}

// remove deletes key from the registry, logging why when there was an entry.
func (r *Reconciler) remove(ctx context.Context, log *slog.Logger, key upstream.Key, why string) {
	if _, ok := r.Registry.Get(key); ok {
		r.Registry.Delete(key)
		log.InfoContext(ctx, "removed GitHub identity provider from the registry", "why", why)
	}
}

// current returns the configuration fingerprint of the registry's provider for
// name, or "" when there is none.
func (r *Reconciler) current(name string) string {
	p, ok := r.Registry.Get(upstream.Key{Kind: upstream.KindGitHub, Name: name})
	if !ok {
		return ""
	}
	if gp, ok := p.(*Provider); ok {
		return gp.fingerprint
	}
	return ""
}

// updateStatus writes the phase and conditions of v when they differ from idp's.
func (r *Reconciler) updateStatus(ctx context.Context, idp *idpv1alpha1.GitHubIdentityProvider, v *validation) error {
	updated := idp.DeepCopy()
	updated.Status.Phase = idpv1alpha1.GitHubPhaseError
	if v.ok {
		updated.Status.Phase = idpv1alpha1.GitHubPhaseReady
	}
	now := metav1.NewTime(r.Clock())
	for _, c := range v.conditions {
		c.ObservedGeneration = idp.Generation
		c.LastTransitionTime = now
		meta.SetStatusCondition(&updated.Status.Conditions, c)
	}
	if equality.Semantic.DeepEqual(idp.Status, updated.Status) {
		return nil
	}
	if err := r.Client.Status().Update(ctx, updated); err != nil {
		return fmt.Errorf("update status of GitHubIdentityProvider %s: %w", idp.Name, err)
	}
	return nil
}

// RequestsFor maps a Secret or ConfigMap to the GitHubIdentityProviders that name it,
// as client Secret or as CA bundle source.
func (r *Reconciler) RequestsFor(ctx context.Context, obj client.Object) []reconcile.Request {
	r.init()
	var list idpv1alpha1.GitHubIdentityProviderList
	if err := r.Client.List(ctx, &list, client.InNamespace(r.Namespace)); err != nil {
		r.Logger.ErrorContext(ctx, "list GitHubIdentityProviders", "error", err)
		return nil
	}
	_, isSecret := obj.(*corev1.Secret)
	var reqs []reconcile.Request
	for i := range list.Items {
		idp := &list.Items[i]
		if (isSecret && obj.GetNamespace() == idp.Namespace && obj.GetName() == idp.Spec.Client.SecretName) ||
			tlsSpec(idp.Spec.GitHubAPI.TLS).Refers(obj, r.Namespace) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(idp)})
		}
	}
	return reqs
}
