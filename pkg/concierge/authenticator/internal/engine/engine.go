// SPDX-License-Identifier: Apache-2.0

package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	"github.com/selkie-dev/selkie/pkg/tlsconfig"
)

// Kind is what differs between authenticator resource types.
type Kind[T client.Object] struct {
	// Name is the resource kind, also the cache key's kind ("JWTAuthenticator").
	Name string
	// LogKey names the resource in log lines ("jwtAuthenticator").
	LogKey string
	// New returns an empty object of the kind.
	New func() T
	// List returns every object of the kind.
	List func(ctx context.Context, c client.Client) ([]T, error)
	// TLS returns the object's spec.tls.
	TLS func(T) *authenticationv1alpha1.TLSSpec
	// Validate runs the kind's checks; the entry is a newly built authenticator to store,
	// nil when invalid or when the cached one already matches.
	Validate func(ctx context.Context, obj T, key authenticator.Key) (*checks.List, *live.Entry)
	// SetStatus sets phase from ready and returns the conditions to update in place.
	SetStatus func(obj T, ready bool) *[]metav1.Condition
	// Status returns the object's status, to skip writes that change nothing.
	Status func(T) any
	// Describe gives log attributes of a stored authenticator (never secrets).
	Describe func(T) []any
}

// Engine reconciles one kind into the authenticator cache.
type Engine[T client.Object] struct {
	Kind      Kind[T]
	Client    client.Client
	Cache     *authenticator.Cache
	APIGroup  string
	Namespace string
	Clock     func() time.Time
	Log       *slog.Logger

	once    sync.Once
	backoff *checks.Backoff
}

func (e *Engine[T]) init() {
	e.once.Do(func() {
		e.backoff = checks.NewBackoff()
		if e.Clock == nil {
			e.Clock = time.Now
		}
		if e.Log == nil {
			e.Log = slog.Default()
		}
	})
}

// Setup registers the engine with mgr, watching the kind and the Secrets and ConfigMaps
// of Namespace that its objects name in spec.tls.
func (e *Engine[T]) Setup(mgr ctrl.Manager, name string, r reconcile.Reconciler) error {
	e.init()
	inNamespace := builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetNamespace() == e.Namespace
	}))
	return ctrl.NewControllerManagedBy(mgr).
		Named(name).
		For(e.Kind.New(), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(e.RequestsFor), inNamespace).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(e.RequestsFor), inNamespace).
		Complete(r)
}

// Reconcile validates one object, updates the cache and writes status. Failures that may
// heal by themselves (network errors, what the remote server serves, errors reading a CA
// source) are validated again after a per-resource backoff growing from 1s to 5m;
// configuration errors wait for a change to the resource or to the Secret or ConfigMap
// it names.
func (e *Engine[T]) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	e.init()
	key := authenticator.Key{APIGroup: e.APIGroup, Kind: e.Kind.Name, Name: req.Name}
	log := e.Log.With(e.Kind.LogKey, req.Name)

	obj := e.Kind.New()
	if err := e.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("get %s %s: %w", e.Kind.Name, req.Name, err)
		}
		e.backoff.Reset(req.Name)
		if live.Remove(e.Cache, key) {
			log.InfoContext(ctx, "removed deleted authenticator from the cache")
		}
		return ctrl.Result{}, nil
	}
	if obj.GetDeletionTimestamp() != nil {
		live.Remove(e.Cache, key)
		return ctrl.Result{}, nil
	}

	list, entry := e.Kind.Validate(ctx, obj, key)
	switch live.Apply(e.Cache, key, list.OK(), entry) {
	case live.Removed:
		log.InfoContext(ctx, "removed invalid authenticator from the cache")
	case live.Stored:
		log.InfoContext(ctx, "stored authenticator in the cache", e.Kind.Describe(obj)...)
	}
	if err := e.updateStatus(ctx, obj, list); err != nil {
		return ctrl.Result{}, err
	}
	after := e.backoff.After(req.Name, list)
	if after > 0 {
		log.InfoContext(ctx, "authenticator is not ready; will validate again", "after", after)
	}
	return ctrl.Result{RequeueAfter: after}, nil
}

// updateStatus writes the phase and conditions of l when they differ from obj's.
func (e *Engine[T]) updateStatus(ctx context.Context, obj T, l *checks.List) error {
	updated := obj.DeepCopyObject().(T)
	conditions := e.Kind.SetStatus(updated, l.OK())
	checks.Apply(conditions, l.Conditions("the "+e.Kind.Name+" is ready"), obj.GetGeneration(), e.Clock())
	if equality.Semantic.DeepEqual(e.Kind.Status(obj), e.Kind.Status(updated)) {
		return nil
	}
	if err := e.Client.Status().Update(ctx, updated); err != nil {
		return fmt.Errorf("update status of %s %s: %w", e.Kind.Name, obj.GetName(), err)
	}
	return nil
}

// RequestsFor maps a Secret or ConfigMap to the objects that read their CA bundle from it.
func (e *Engine[T]) RequestsFor(ctx context.Context, obj client.Object) []reconcile.Request {
	e.init()
	items, err := e.Kind.List(ctx, e.Client)
	if err != nil {
		e.Log.ErrorContext(ctx, "list "+e.Kind.Name+"s", "error", err)
		return nil
	}
	var reqs []reconcile.Request
	for _, item := range items {
		if tlsconfig.FromConcierge(e.Kind.TLS(item)).Refers(obj, e.Namespace) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: item.GetName()}})
		}
	}
	return reqs
}

// Unchanged reports whether the cached authenticator for key was built from this very
// configuration (spec and CA bundle), in which case the checks that contact the remote
// server need not run again: a flaky network must not evict a working authenticator.
// It also returns the configuration's fingerprint for a new authenticator ("" when the
// local checks in list failed and nothing should be built).
func Unchanged(list *checks.List, cache *authenticator.Cache, key authenticator.Key, spec any, bundle *tlsconfig.Bundle) (fingerprint string, unchanged bool) {
	if !list.OK() {
		return "", false
	}
	fp, err := live.Fingerprint(spec, bundle.PEM())
	if err != nil {
		return "", false
	}
	cur := live.Lookup(cache, key)
	return fp, cur != nil && cur.Fingerprint() == fp
}
