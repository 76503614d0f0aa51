// SPDX-License-Identifier: Apache-2.0

package ldap

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/internal/engine"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream/internal/checks"
	"github.com/selkie-dev/selkie/pkg/tlsconfig"
)

// ActiveDirectoryReconciler reconciles the ActiveDirectoryIdentityProviders of the
// supervisor's namespace into a Registry (key kind upstream.KindActiveDirectory) and
// writes their status (docs/wire-contract.md §1.8). It validates like Reconciler and adds the
// SearchBaseFound condition.
type ActiveDirectoryReconciler struct {
	core   *Reconciler
	engine *engine.Engine[*idpv1alpha1.ActiveDirectoryIdentityProvider, upstream.Key, upstream.Provider]
}

// NewActiveDirectoryReconciler returns an ActiveDirectoryReconciler; the config's Clock,
// Log, Timeout and Dial may be unset.
func NewActiveDirectoryReconciler(cfg ReconcilerConfig) *ActiveDirectoryReconciler {
	core := &Reconciler{ReconcilerConfig: cfg.withDefaults(), activeDirectory: true}
	r := &ActiveDirectoryReconciler{core: core}
	r.engine = engine.New(engine.Kind[*idpv1alpha1.ActiveDirectoryIdentityProvider, upstream.Key, upstream.Provider]{
		Name:       "ActiveDirectoryIdentityProvider",
		Controller: "activedirectoryidentityprovider",
		Noun:       "Active Directory identity provider",
		LogAttrs:   []any{"kind", upstream.KindActiveDirectory},
		Namespaced: true,
		Key:        upstream.KeyFunc(upstream.KindActiveDirectory),
		Objects: engine.ObjectsOf(func(l *idpv1alpha1.ActiveDirectoryIdentityProviderList) []idpv1alpha1.ActiveDirectoryIdentityProvider {
			return l.Items
		}),
		// Validate like Reconciler, finding empty search bases in the root DSE.
		Validate: func(ctx context.Context, ad *idpv1alpha1.ActiveDirectoryIdentityProvider, current *checks.Current) (*checks.Validation, error) {
			return core.validate(ctx, asLDAP(ad), current)
		},
		Describe: func(ad *idpv1alpha1.ActiveDirectoryIdentityProvider, p upstream.Provider) []any {
			return describe(ad.Spec.Host, p)
		},
		SetStatus: engine.Phase(idpv1alpha1.ActiveDirectoryPhaseReady, idpv1alpha1.ActiveDirectoryPhaseError, func(ad *idpv1alpha1.ActiveDirectoryIdentityProvider) (*idpv1alpha1.ActiveDirectoryIdentityProviderPhase, *[]metav1.Condition) {
			return &ad.Status.Phase, &ad.Status.Conditions
		}),
		Status: func(ad *idpv1alpha1.ActiveDirectoryIdentityProvider) any { return ad.Status },
		References: func(ad *idpv1alpha1.ActiveDirectoryIdentityProvider) (string, tlsconfig.Spec) {
			return ad.Spec.Bind.SecretName, checks.TLSSpec(ad.Spec.TLS)
		},
	}, core.EngineConfig())
	return r
}

// SetupWithManager registers the reconciler with mgr, watching the
// ActiveDirectoryIdentityProviders of Namespace and the Secrets and ConfigMaps they name.
func (r *ActiveDirectoryReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return r.engine.Setup(mgr)
}

// Reconcile validates one ActiveDirectoryIdentityProvider like Reconciler.Reconcile,
// finding empty search bases in the root DSE.
func (r *ActiveDirectoryReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return r.engine.Reconcile(ctx, req)
}

// RequestsFor maps a Secret or ConfigMap to the ActiveDirectoryIdentityProviders that
// name it, as bind Secret or as CA bundle source.
func (r *ActiveDirectoryReconciler) RequestsFor(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.engine.RequestsFor(ctx, obj)
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
func (r *Reconciler) findSearchBases(ctx context.Context, v *checks.Validation, cfg *Config) bool {
	if cfg.UserSearch.Base == "" || cfg.GroupSearch.Base == "" {
		base, err := DefaultNamingContext(ctx, r.Dial, cfg.Endpoint, cfg.BindUsername, cfg.BindPassword)
		if err != nil {
			v.Retry = true
			v.Add(idpv1alpha1.ConditionSearchBaseFound, false, idpv1alpha1.ReasonErrorFetchingSearchBase,
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
func searchBaseFound(v *checks.Validation, spec Config, userBase, groupBase string) {
	const typ = idpv1alpha1.ConditionSearchBaseFound
	if spec.UserSearch.Base != "" && spec.GroupSearch.Base != "" {
		v.Add(typ, true, idpv1alpha1.ReasonUsingConfigurationFromSpec, "Using search base from ActiveDirectoryIdentityProvider config.")
		return
	}
	v.Add(typ, true, idpv1alpha1.ReasonSuccess, fmt.Sprintf("Successfully fetched defaultNamingContext from the root DSE: "+
		"user search base %q, group search base %q", userBase, groupBase))
}
