// SPDX-License-Identifier: Apache-2.0

package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/selkie-dev/selkie/pkg/tlsconfig"
)

// Store receives the live values of usable resources. Set must close (release the
// background work of) a value it replaces, and Delete the value it removes, when the
// value has a Close method.
type Store[K comparable, V any] interface {
	Set(key K, value V)
	Delete(key K)
}

// Kind is what differs between resource types.
type Kind[T client.Object, K comparable, V any] struct {
	// Name is the resource kind, used in errors ("JWTAuthenticator").
	Name string
	// Controller names the controller ("jwtauthenticator").
	Controller string
	// Noun names the live value in log messages ("JWT authenticator").
	Noun string
	// LogAttrs are added to every log line, after the object's name and namespace.
	LogAttrs []any
	// Namespaced is true for kinds whose objects live in Config.Namespace (objects
	// elsewhere are ignored); false for cluster-scoped kinds.
	Namespaced bool
	// ReadyMessage, when set, makes the engine add a Ready condition summing up the
	// others, with this message when True.
	ReadyMessage string
	// Key returns the store key of the object called name.
	Key func(name string) K
	// Objects makes and lists the kind's objects (see ObjectsOf).
	Objects Objects[T]
	// Validate checks obj; current is what the engine stored for it (nil when
	// nothing). It returns an error only when reading a referenced object failed
	// transiently, so that the reconcile is retried with the current state kept.
	Validate func(ctx context.Context, obj T, current *Current[V]) (*Validation[V], error)
	// Describe gives log attributes of a newly stored value (never secrets).
	Describe func(obj T, value V) []any
	// SetStatus sets the phase of obj from ok and returns its conditions to update in
	// place (see Phase).
	SetStatus func(obj T, ok bool) *[]metav1.Condition
	// Status returns the object's status, to skip writes that change nothing.
	Status func(T) any
	// References returns the Secret obj names for credentials ("" for none) and its TLS
	// spec, whose ConfigMap or Secret may hold the CA bundle.
	References func(obj T) (secretName string, tls tlsconfig.Spec)
}

// Current is the value an engine stored for an object, with the fingerprint of the
// configuration it was built from.
type Current[V any] struct {
	Value       V
	Fingerprint string
}

// Matches reports whether c was built from the configuration with fingerprint fp.
func (c *Current[V]) Matches(fp string) bool { return c != nil && fp != "" && c.Fingerprint == fp }

// Config is what an Engine needs besides its Kind.
type Config[K comparable, V any] struct {
	Client client.Client
	Store  Store[K, V]
	// Namespace is where the Secrets and ConfigMaps that objects name live, and the
	// objects themselves for namespaced kinds.
	Namespace string
	// Clock returns the current time for conditions; nil means time.Now.
	Clock func() time.Time
	// Log receives the controller's logs; nil means slog.Default().
	Log *slog.Logger
	// Ready, when set, is a gauge labelled kind and name that the engine sets to 1 for
	// each object whose value it stores, 0 for one that failed validation, and removes
	// with the object.
	Ready *prometheus.GaugeVec
}

// Engine reconciles one kind into a Store and writes status. Only the engine should
// store values under its kind's keys: it validates against what it stored itself.
type Engine[T client.Object, K comparable, V any] struct {
	kind    Kind[T, K, V]
	cfg     Config[K, V]
	backoff workqueue.TypedRateLimiter[string]

	mu      sync.Mutex
	current map[string]*Current[V]
}

// New returns an Engine for kind.
func New[T client.Object, K comparable, V any](kind Kind[T, K, V], cfg Config[K, V]) *Engine[T, K, V] {
	cfg.Clock, cfg.Log = OrDefaults(cfg.Clock, cfg.Log)
	return &Engine[T, K, V]{kind: kind, cfg: cfg, current: map[string]*Current[V]{},
		backoff: workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, 5*time.Minute)}
}

// OrDefaults returns clock and log, or time.Now and slog.Default() for those that are nil.
func OrDefaults(clock func() time.Time, log *slog.Logger) (func() time.Time, *slog.Logger) {
	if clock == nil {
		clock = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return clock, log
}

// Setup registers the engine with mgr, watching the kind and the Secrets and ConfigMaps
// of Namespace that its objects name.
func (e *Engine[T, K, V]) Setup(mgr ctrl.Manager) error {
	inNamespace := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetNamespace() == e.cfg.Namespace })
	forPredicates := []predicate.Predicate{predicate.GenerationChangedPredicate{}}
	if e.kind.Namespaced {
		forPredicates = append(forPredicates, inNamespace)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(e.kind.Controller).
		For(e.kind.Objects.New(), builder.WithPredicates(forPredicates...)).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(e.RequestsFor), builder.WithPredicates(inNamespace)).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(e.RequestsFor), builder.WithPredicates(inNamespace)).
		Complete(e)
}

// Reconcile validates one object, stores its value when it is usable and removes it at
// once otherwise (a broken authenticator or provider stops at once), and writes status.
// A failed check that may pass later (Validation.Retry) is retried after a per-object
// backoff growing from 1s to 5m; configuration errors wait for a change to the object
// or to an object it names.
func (e *Engine[T, K, V]) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if e.kind.Namespaced && req.Namespace != e.cfg.Namespace {
		return ctrl.Result{}, nil
	}
	attrs := []any{"name", req.Name}
	if e.kind.Namespaced {
		attrs = append(attrs, "namespace", req.Namespace)
	}
	log := e.cfg.Log.With(append(attrs, e.kind.LogAttrs...)...)

	obj := e.kind.Objects.New()
	if err := e.cfg.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("get %s %s: %w", e.kind.Name, req.Name, err)
		}
		e.backoff.Forget(req.Name)
		e.remove(ctx, log, req.Name, "deleted")
		e.report(req.Name, nil)
		return ctrl.Result{}, nil
	}
	if obj.GetDeletionTimestamp() != nil {
		e.remove(ctx, log, req.Name, "deleted")
		e.report(req.Name, nil)
		return ctrl.Result{}, nil
	}

	v, err := e.kind.Validate(ctx, obj, e.lookup(req.Name))
	if err != nil {
		return ctrl.Result{}, err
	}
	switch {
	case !v.OK:
		e.remove(ctx, log, req.Name, "not ready")
	case v.hasBuilt:
		e.store(req.Name, &Current[V]{Value: v.built, Fingerprint: v.fingerprint})
		log.InfoContext(ctx, "stored "+e.kind.Noun, e.kind.Describe(obj, v.built)...)
	}
	e.report(req.Name, &v.OK)
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

// report sets the Ready gauge of name: 1 or 0 from ok, or no series when ok is nil (the
// object is gone).
func (e *Engine[T, K, V]) report(name string, ok *bool) {
	if e.cfg.Ready == nil {
		return
	}
	switch {
	case ok == nil:
		e.cfg.Ready.DeleteLabelValues(e.kind.Name, name)
	case *ok:
		e.cfg.Ready.WithLabelValues(e.kind.Name, name).Set(1)
	default:
		e.cfg.Ready.WithLabelValues(e.kind.Name, name).Set(0)
	}
}

// lookup returns what the engine stored for name, or nil.
func (e *Engine[T, K, V]) lookup(name string) *Current[V] {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.current[name]
}

// store makes c the value for name.
func (e *Engine[T, K, V]) store(name string, c *Current[V]) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.current[name] = c
	e.cfg.Store.Set(e.kind.Key(name), c.Value)
}

// remove deletes name's value from the store (whoever put one there), logging why when
// the engine had stored one.
func (e *Engine[T, K, V]) remove(ctx context.Context, log *slog.Logger, name, why string) {
	e.mu.Lock()
	_, found := e.current[name]
	delete(e.current, name)
	e.cfg.Store.Delete(e.kind.Key(name))
	e.mu.Unlock()
	if found {
		log.InfoContext(ctx, "removed "+e.kind.Noun, "why", why)
	}
}

// updateStatus writes the phase and conditions of v when they differ from obj's.
func (e *Engine[T, K, V]) updateStatus(ctx context.Context, obj T, v *Validation[V]) error {
	updated, ok := obj.DeepCopyObject().(T)
	if !ok {
		return fmt.Errorf("deep copy of %s %s has another type", e.kind.Name, obj.GetName())
	}
	conditions := v.Conditions
	if e.kind.ReadyMessage != "" {
		conditions = append(conditions[:len(conditions):len(conditions)], v.ready(e.kind.ReadyMessage))
	}
	SetConditions(e.kind.SetStatus(updated, v.OK), conditions, obj.GetGeneration(), e.cfg.Clock())
	_, err := WriteStatus(ctx, e.cfg.Client, e.kind.Name, obj, updated, e.kind.Status)
	return err
}

// RequestsFor maps a Secret or ConfigMap to the objects that name it, as their Secret
// or as CA bundle source.
func (e *Engine[T, K, V]) RequestsFor(ctx context.Context, obj client.Object) []reconcile.Request {
	namespace := ""
	if e.kind.Namespaced {
		namespace = e.cfg.Namespace
	}
	items, err := e.kind.Objects.List(ctx, e.cfg.Client, namespace)
	if err != nil {
		e.cfg.Log.ErrorContext(ctx, "list "+e.kind.Name+"s", "error", err)
		return nil
	}
	_, isSecret := obj.(*corev1.Secret)
	var reqs []reconcile.Request
	for _, item := range items {
		secretName, tls := e.kind.References(item)
		if (isSecret && secretName != "" && obj.GetNamespace() == e.cfg.Namespace && obj.GetName() == secretName) ||
			tls.Refers(obj, e.cfg.Namespace) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(item)})
		}
	}
	return reqs
}
