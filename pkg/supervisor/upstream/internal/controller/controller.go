// SPDX-License-Identifier: Apache-2.0

// Package controller holds the reconcile loop shared by the supervisor's identity-provider
// controllers (OIDC, LDAP, Active Directory, GitHub): each kind supplies a Kind describing
// only what differs, and an Engine runs the rest.
package controller

import (
	"context"
	"fmt"
	"log/slog"
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

	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
	"github.com/selkie-dev/selkie/pkg/tlsconfig"
)

// Kind is what differs between identity-provider resource types.
type Kind[T client.Object] struct {
	// Name is the resource kind, used in errors ("OIDCIdentityProvider").
	Name string
	// Controller names the controller ("oidcidentityprovider").
	Controller string
	// RegistryKind is the kind of the resource's upstream.Key.
	RegistryKind string
	// Noun names the provider in log messages ("OIDC identity provider").
	Noun string
	// LogAttrs are added to the attributes of every reconcile log line, after idp and namespace.
	LogAttrs []any
	// New returns an empty object of the kind.
	New func() T
	// List returns every object of the kind in namespace.
	List func(ctx context.Context, c client.Client, namespace string) ([]T, error)
	// Validate checks obj. It returns an error only when reading a referenced object
	// failed transiently, so that the reconcile is retried with the current state kept.
	Validate func(ctx context.Context, obj T) (*Validation, error)
	// Describe gives the log attributes of a newly stored provider (never secrets).
	Describe func(obj T, p upstream.Provider) []any
	// SetStatus sets the phase of obj from ok and returns its conditions to update in place.
	SetStatus func(obj T, ok bool) *[]metav1.Condition
	// Status returns the object's status, to skip writes that change nothing.
	Status func(T) any
	// References returns the Secret obj names (its client or bind Secret) and its TLS spec,
	// whose ConfigMap or Secret may hold the CA bundle.
	References func(obj T) (secretName string, tls tlsconfig.Spec)
}

// Config is what an Engine needs besides its Kind.
type Config struct {
	Client    client.Client
	Registry  *upstream.Registry
	Namespace string
	// Clock returns the current time for conditions; nil means time.Now.
	Clock func() time.Time
	// Log receives the controller's logs; nil means slog.Default().
	Log *slog.Logger
}

// Engine reconciles one kind into an upstream.Registry and writes status.
type Engine[T client.Object] struct {
	kind    Kind[T]
	cfg     Config
	backoff workqueue.TypedRateLimiter[string]
}

// New returns an Engine for kind.
func New[T client.Object](kind Kind[T], cfg Config) *Engine[T] {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Engine[T]{kind: kind, cfg: cfg,
		backoff: workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, 5*time.Minute)}
}

// Setup registers r with mgr, watching the kind's objects in Namespace and the Secrets
// and ConfigMaps of Namespace that they name. The manager's cache should be limited to
// Namespace.
func (e *Engine[T]) Setup(mgr ctrl.Manager, r reconcile.Reconciler) error {
	inNamespace := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetNamespace() == e.cfg.Namespace })
	return ctrl.NewControllerManagedBy(mgr).
		Named(e.kind.Controller).
		For(e.kind.New(), builder.WithPredicates(predicate.GenerationChangedPredicate{}, inNamespace)).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(e.RequestsFor), builder.WithPredicates(inNamespace)).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(e.RequestsFor), builder.WithPredicates(inNamespace)).
		Complete(r)
}

// Reconcile validates one object, stores its provider in the registry when it is Ready
// and removes it at once otherwise, and writes status. A failed check that may pass
// later (Validation.Retry) is retried after a per-resource backoff growing from 1s to
// 5m; configuration errors wait for a change to the resource or to an object it names.
func (e *Engine[T]) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if req.Namespace != e.cfg.Namespace {
		return ctrl.Result{}, nil
	}
	key := upstream.Key{Kind: e.kind.RegistryKind, Name: req.Name}
	log := e.cfg.Log.With(append([]any{"idp", req.Name, "namespace", req.Namespace}, e.kind.LogAttrs...)...)

	obj := e.kind.New()
	if err := e.cfg.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("get %s %s: %w", e.kind.Name, req.Name, err)
		}
		e.backoff.Forget(req.Name)
		e.remove(ctx, log, key, "deleted")
		return ctrl.Result{}, nil
	}
	if obj.GetDeletionTimestamp() != nil {
		e.remove(ctx, log, key, "deleted")
		return ctrl.Result{}, nil
	}

	v, err := e.kind.Validate(ctx, obj)
	if err != nil {
		return ctrl.Result{}, err
	}
	switch {
	case !v.OK:
		e.remove(ctx, log, key, "not ready")
	case v.Provider != nil:
		e.cfg.Registry.Set(key, v.Provider)
		log.InfoContext(ctx, "stored "+e.kind.Noun, e.kind.Describe(obj, v.Provider)...)
	}
	if err := e.updateStatus(ctx, obj, v); err != nil {
		return ctrl.Result{}, err
	}
	if !v.Retry {
		e.backoff.Forget(req.Name)
		return ctrl.Result{}, nil
	}
	after := e.backoff.When(req.Name)
	log.InfoContext(ctx, e.kind.Noun+" is not ready; will validate again", "after", after)
	return ctrl.Result{RequeueAfter: after}, nil
}

// remove deletes key from the registry, logging why when there was an entry.
func (e *Engine[T]) remove(ctx context.Context, log *slog.Logger, key upstream.Key, why string) {
	if _, ok := e.cfg.Registry.Get(key); ok {
		e.cfg.Registry.Delete(key)
		log.InfoContext(ctx, "removed "+e.kind.Noun+" from the registry", "why", why)
	}
}

// updateStatus writes the phase and conditions of v when they differ from obj's.
func (e *Engine[T]) updateStatus(ctx context.Context, obj T, v *Validation) error {
	updated := obj.DeepCopyObject().(T)
	conditions := e.kind.SetStatus(updated, v.OK)
	now := metav1.NewTime(e.cfg.Clock())
	for _, c := range v.Conditions {
		c.ObservedGeneration = obj.GetGeneration()
		c.LastTransitionTime = now
		meta.SetStatusCondition(conditions, c)
	}
	if equality.Semantic.DeepEqual(e.kind.Status(obj), e.kind.Status(updated)) {
		return nil
	}
	if err := e.cfg.Client.Status().Update(ctx, updated); err != nil {
		return fmt.Errorf("update status of %s %s: %w", e.kind.Name, obj.GetName(), err)
	}
	return nil
}

// RequestsFor maps a Secret or ConfigMap to the objects that name it, as their Secret
// or as CA bundle source.
func (e *Engine[T]) RequestsFor(ctx context.Context, obj client.Object) []reconcile.Request {
	items, err := e.kind.List(ctx, e.cfg.Client, e.cfg.Namespace)
	if err != nil {
		e.cfg.Log.ErrorContext(ctx, "list "+e.kind.Name+"s", "error", err)
		return nil
	}
	_, isSecret := obj.(*corev1.Secret)
	var reqs []reconcile.Request
	for _, item := range items {
		secretName, tls := e.kind.References(item)
		if (isSecret && obj.GetNamespace() == item.GetNamespace() && obj.GetName() == secretName) ||
			tls.Refers(obj, e.cfg.Namespace) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(item)})
		}
	}
	return reqs
}

// Ptrs returns pointers to the elements of items (a list's Items), for Kind.List.
func Ptrs[E any](items []E) []*E {
	out := make([]*E, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
