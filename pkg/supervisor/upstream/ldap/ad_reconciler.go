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
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// ActiveDirectoryReconciler reconciles the ActiveDirectoryIdentityProviders of the
// supervisor's namespace into a Registry (key kind upstream.KindActiveDirectory) and
// writes their status (wire contract §1.8). It validates like Reconciler and adds the
// SearchBaseFound condition. Set the exported fields before use; do not copy an
// ActiveDirectoryReconciler after first use.
type ActiveDirectoryReconciler struct {
	// Client reads ActiveDirectoryIdentityProviders, Secrets and ConfigMaps and writes status.
	Client client.Client
	// Registry receives the providers of Ready ActiveDirectoryIdentityProviders.
	Registry *upstream.Registry
	// Namespace is the supervisor's namespace; resources elsewhere are ignored.
	Namespace string
	// Clock returns the current time, for conditions; nil means time.Now.
	Clock func() time.Time
	// Logger receives the controller's logs (never secrets); nil means slog.Default().
	Logger *slog.Logger
	// Timeout bounds dialing and each LDAP request; zero means DefaultTimeout.
	Timeout time.Duration
	// Dial opens connections, for the probe, the root DSE and the providers; nil means Dial.
	Dial DialFunc

	once sync.Once
	core *Reconciler
}

func (r *ActiveDirectoryReconciler) init() {
	r.once.Do(func() {
		r.core = &Reconciler{Client: r.Client, Registry: r.Registry, Namespace: r.Namespace, Clock: r.Clock,
			Logger: r.Logger, Timeout: r.Timeout, Dial: r.Dial, activeDirectory: true}
		r.core.init()
	})
}

// SetupWithManager registers the reconciler with mgr, watching the
// ActiveDirectoryIdentityProviders of Namespace and the Secrets and ConfigMaps they name.
func (r *ActiveDirectoryReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.init()
	inNamespace := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetNamespace() == r.Namespace })
	return ctrl.NewControllerManagedBy(mgr).
		Named("activedirectoryidentityprovider").
		For(&idpv1alpha1.ActiveDirectoryIdentityProvider{}, builder.WithPredicates(predicate.GenerationChangedPredicate{}, inNamespace)).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.RequestsFor), builder.WithPredicates(inNamespace)).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(r.RequestsFor), builder.WithPredicates(inNamespace)).
		Complete(r)
}

// Reconcile validates one ActiveDirectoryIdentityProvider like Reconciler.Reconcile,
// finding empty search bases in the root DSE.
func (r *ActiveDirectoryReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	r.init()
	var ad *idpv1alpha1.ActiveDirectoryIdentityProvider
	get := func(ctx context.Context) (*idpv1alpha1.LDAPIdentityProvider, error) {
		ad = &idpv1alpha1.ActiveDirectoryIdentityProvider{}
		if err := r.Client.Get(ctx, req.NamespacedName, ad); err != nil {
			return nil, err
		}
		return asLDAP(ad), nil
	}
	write := func(ctx context.Context, v *validation) error { return r.updateStatus(ctx, ad, v) }
	return r.core.reconcile(ctx, req, get, write)
}

// asLDAP views ad as an LDAPIdentityProvider: the two specs have the same fields, and
// the Active Directory defaults are applied later (Config.ActiveDirectory).
func asLDAP(ad *idpv1alpha1.ActiveDirectoryIdentityProvider) *idpv1alpha1.LDAPIdentityProvider {
	s := ad.Spec
	return &idpv1alpha1.LDAPIdentityProvider{
		ObjectMeta: *ad.ObjectMeta.DeepCopy(),
		Spec: idpv1alpha1.LDAPIdentityProviderSpec{
			Host: s.Host, TLS: s.TLS.DeepCopy(), Bind: idpv1alpha1.LDAPIdentityProviderBind{SecretName: s.Bind.SecretName},
			UserSearch: idpv1alpha1.LDAPIdentityProviderUserSearch{Base: s.UserSearch.Base, Filter: s.UserSearch.Filter,
				Attributes: idpv1alpha1.LDAPIdentityProviderUserSearchAttributes{Username: s.UserSearch.Attributes.Username, UID: s.UserSearch.Attributes.UID}},
			GroupSearch: idpv1alpha1.LDAPIdentityProviderGroupSearch{Base: s.GroupSearch.Base, Filter: s.GroupSearch.Filter,
				UserAttributeForFilter: s.GroupSearch.UserAttributeForFilter,
				Attributes:             idpv1alpha1.LDAPIdentityProviderGroupSearchAttributes{GroupName: s.GroupSearch.Attributes.GroupName},
				SkipGroupRefresh:       s.GroupSearch.SkipGroupRefresh},
		},
	}
}

// findSearchBases fills the empty search bases of cfg from the root DSE's
// defaultNamingContext and adds SearchBaseFound. It returns false when they could not
// be found (retried with backoff: the server may answer later).
func (r *Reconciler) findSearchBases(ctx context.Context, v *validation, cfg *Config) bool {
	if cfg.UserSearch.Base == "" || cfg.GroupSearch.Base == "" {
		base, err := DefaultNamingContext(ctx, r.Dial, cfg.Endpoint, cfg.BindUsername, cfg.BindPassword)
		if err != nil {
			v.retry = true
			v.add(idpv1alpha1.ConditionSearchBaseFound, false, idpv1alpha1.ReasonErrorFetchingSearchBase,
				fmt.Sprintf("could not fetch the search base from the root DSE: %v", err))
			return false
		}
		spec := *cfg
		if cfg.UserSearch.Base == "" {
			cfg.UserSearch.Base = base
		}
		if cfg.GroupSearch.Base == "" {
			cfg.GroupSearch.Base = base
		}
		searchBaseFound(v, spec, cfg.UserSearch.Base, cfg.GroupSearch.Base)
		return true
	}
	searchBaseFound(v, *cfg, cfg.UserSearch.Base, cfg.GroupSearch.Base)
	return true
}

// searchBaseFound adds a True SearchBaseFound for the bases in use, given the
// configuration from the spec.
func searchBaseFound(v *validation, spec Config, userBase, groupBase string) {
	const typ = idpv1alpha1.ConditionSearchBaseFound
	if spec.UserSearch.Base != "" && spec.GroupSearch.Base != "" {
		v.add(typ, true, idpv1alpha1.ReasonUsingConfigurationFromSpec, "Using search base from ActiveDirectoryIdentityProvider config.")
		return
	}
	v.add(typ, true, idpv1alpha1.ReasonSuccess, fmt.Sprintf("Successfully fetched defaultNamingContext from the root DSE: "+
		"user search base %q, group search base %q", userBase, groupBase))
}

// updateStatus writes the phase and conditions of v when they differ from ad's.
func (r *ActiveDirectoryReconciler) updateStatus(ctx context.Context, ad *idpv1alpha1.ActiveDirectoryIdentityProvider, v *validation) error {
	updated := ad.DeepCopy()
	updated.Status.Phase = idpv1alpha1.ActiveDirectoryPhaseError
	if v.ok {
		updated.Status.Phase = idpv1alpha1.ActiveDirectoryPhaseReady
	}
	now := metav1.NewTime(r.core.Clock())
	for _, c := range v.conditions {
		c.ObservedGeneration = ad.Generation
		c.LastTransitionTime = now
		meta.SetStatusCondition(&updated.Status.Conditions, c)
	}
	if equality.Semantic.DeepEqual(ad.Status, updated.Status) {
		return nil
	}
	if err := r.Client.Status().Update(ctx, updated); err != nil {
		return fmt.Errorf("update status of ActiveDirectoryIdentityProvider %s: %w", ad.Name, err)
	}
	return nil
}

// RequestsFor maps a Secret or ConfigMap to the ActiveDirectoryIdentityProviders that
// name it, as bind Secret or as CA bundle source.
func (r *ActiveDirectoryReconciler) RequestsFor(ctx context.Context, obj client.Object) []reconcile.Request {
	r.init()
	var list idpv1alpha1.ActiveDirectoryIdentityProviderList
	if err := r.Client.List(ctx, &list, client.InNamespace(r.Namespace)); err != nil {
		r.core.Logger.ErrorContext(ctx, "list ActiveDirectoryIdentityProviders", "error", err)
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
