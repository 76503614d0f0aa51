// SPDX-License-Identifier: Apache-2.0

package ldap

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

// Reconciler reconciles the LDAPIdentityProviders of the supervisor's namespace into a
// Registry and writes their status (wire contract §1.8). The API group is whatever the
// manager's scheme maps the idp types to (see suffix.AddToScheme). Set the exported
// fields before use; do not copy a Reconciler after first use.
type Reconciler struct {
	// Client reads LDAPIdentityProviders, Secrets and ConfigMaps and writes status.
	Client client.Client
	// Registry receives the providers of Ready LDAPIdentityProviders.
	Registry *upstream.Registry
	// Namespace is the supervisor's namespace; resources elsewhere are ignored.
	Namespace string
	// Clock returns the current time, for conditions; nil means time.Now.
	Clock func() time.Time
	// Logger receives the controller's logs (never secrets); nil means slog.Default().
	Logger *slog.Logger
	// Timeout bounds dialing and each LDAP request, in the probe and in every later
	// login; zero means DefaultTimeout.
	Timeout time.Duration
	// Dial opens connections, for the probe and the providers; nil means Dial.
	Dial DialFunc

	// activeDirectory is set by ActiveDirectoryReconciler for its core.
	activeDirectory bool

	once    sync.Once
	backoff workqueue.TypedRateLimiter[string]
}

// key is the registry key of the resource called name.
func (r *Reconciler) key(name string) upstream.Key {
	if r.activeDirectory {
		return upstream.Key{Kind: upstream.KindActiveDirectory, Name: name}
	}
	return upstream.Key{Kind: upstream.KindLDAP, Name: name}
}

func (r *Reconciler) init() {
	r.once.Do(func() {
		if r.Clock == nil {
			r.Clock = time.Now
		}
		if r.Logger == nil {
			r.Logger = slog.Default()
		}
		if r.Timeout == 0 {
			r.Timeout = DefaultTimeout
		}
		if r.Dial == nil {
			r.Dial = Dial
		}
		r.backoff = workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, 5*time.Minute)
	})
}

// SetupWithManager registers the reconciler with mgr, watching the
// LDAPIdentityProviders of Namespace and the Secrets and ConfigMaps they name (bind
// credentials and CA bundles). The manager's cache should be limited to Namespace.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.init()
	inNamespace := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetNamespace() == r.Namespace })
	return ctrl.NewControllerManagedBy(mgr).
		Named("ldapidentityprovider").
		For(&idpv1alpha1.LDAPIdentityProvider{}, builder.WithPredicates(predicate.GenerationChangedPredicate{}, inNamespace)).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.RequestsFor), builder.WithPredicates(inNamespace)).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.RequestsFor), builder.WithPredicates(inNamespace)).
		Complete(r)
}

// Reconcile validates one LDAPIdentityProvider, stores its provider in the registry
// when it is Ready and removes it at once otherwise, and writes status. A failed
// connection or bind is retried after a per-resource backoff growing from 1s to 5m;
// configuration errors wait for a change to the resource or to an object it names.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	r.init()
	var idp *idpv1alpha1.LDAPIdentityProvider
	get := func(ctx context.Context) (*idpv1alpha1.LDAPIdentityProvider, error) {
		idp = &idpv1alpha1.LDAPIdentityProvider{}
		return idp, r.Client.Get(ctx, req.NamespacedName, idp)
	}
	write := func(ctx context.Context, v *validation) error { return r.updateStatus(ctx, idp, v) }
	return r.reconcile(ctx, req, get, write)
}

// reconcile is Reconcile for either kind: get reads the resource (as an
// LDAPIdentityProvider) and write writes its status.
func (r *Reconciler) reconcile(ctx context.Context, req ctrl.Request,
	get func(context.Context) (*idpv1alpha1.LDAPIdentityProvider, error), write func(context.Context, *validation) error) (ctrl.Result, error) {
	if req.Namespace != r.Namespace {
		return ctrl.Result{}, nil
	}
	key := r.key(req.Name)
	log := r.Logger.With("idp", req.Name, "namespace", req.Namespace, "kind", key.Kind)

	idp, err := get(ctx)
	if err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("get %s %s: %w", key.Kind, req.Name, err)
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
		log.InfoContext(ctx, "stored LDAP identity provider", "host", idp.Spec.Host, "protocol", v.provider.Protocol())
	}
	if err := write(ctx, v); err != nil {
		return ctrl.Result{}, err
	}
	if !v.retry {
		r.backoff.Forget(req.Name)
		return ctrl.Result{}, nil
	}
	after := r.backoff.When(req.Name)
	log.InfoContext(ctx, "LDAP identity provider is not ready; will validate again", "after", after)
	return ctrl.Result{RequeueAfter: after}, nil
}

// remove deletes key from the registry, logging why when there was an entry.
func (r *Reconciler) remove(ctx context.Context, log *slog.Logger, key upstream.Key, why string) {
	if _, ok := r.Registry.Get(key); ok {
		r.Registry.Delete(key)
		log.InfoContext(ctx, "removed LDAP identity provider from the registry", "why", why)
	}
}

// current returns the registry's provider for name, or nil when there is none.
func (r *Reconciler) current(name string) *Provider {
	p, _ := r.Registry.Get(r.key(name))
	lp, _ := p.(*Provider)
	return lp
}

// updateStatus writes the phase and conditions of v when they differ from idp's.
func (r *Reconciler) updateStatus(ctx context.Context, idp *idpv1alpha1.LDAPIdentityProvider, v *validation) error {
	updated := idp.DeepCopy()
	updated.Status.Phase = idpv1alpha1.LDAPPhaseError
	if v.ok {
		updated.Status.Phase = idpv1alpha1.LDAPPhaseReady
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
		return fmt.Errorf("update status of LDAPIdentityProvider %s: %w", idp.Name, err)
	}
	return nil
}

// RequestsFor maps a Secret or ConfigMap to the LDAPIdentityProviders that name it, as
// bind Secret or as CA bundle source.
func (r *Reconciler) RequestsFor(ctx context.Context, obj client.Object) []reconcile.Request {
	r.init()
	var list idpv1alpha1.LDAPIdentityProviderList
	if err := r.Client.List(ctx, &list, client.InNamespace(r.Namespace)); err != nil {
		r.Logger.ErrorContext(ctx, "list LDAPIdentityProviders", "error", err)
		return nil
	}
	_, isSecret := obj.(*corev1.Secret)
	var reqs []reconcile.Request
	for i := range list.Items {
		idp := &list.Items[i]
		if (isSecret && obj.GetNamespace() == idp.Namespace && obj.GetName() == idp.Spec.Bind.SecretName) ||
			tlsSpec(idp.Spec.TLS).Refers(obj, r.Namespace) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(idp)})
		}
	}
	return reqs
}
