// SPDX-License-Identifier: Apache-2.0

package ldap

import (
	"context"
	"time"

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

// ReconcilerConfig configures a Reconciler or an ActiveDirectoryReconciler.
type ReconcilerConfig struct {
	upstream.ControllerConfig
	// Timeout bounds dialing and each LDAP request, in the probe and in every later
	// login; zero means DefaultTimeout.
	Timeout time.Duration
	// Dial opens connections, for the probe, the root DSE and the providers; nil means Dial.
	Dial DialFunc
}

// withDefaults returns c with its unset optional fields set.
func (c ReconcilerConfig) withDefaults() ReconcilerConfig {
	c.ControllerConfig = c.WithDefaults()
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Dial == nil {
		c.Dial = Dial
	}
	return c
}

// Reconciler reconciles the LDAPIdentityProviders of the supervisor's namespace into a
// Registry and writes their status (docs/wire-contract.md §1.8).
type Reconciler struct {
	ReconcilerConfig
	// activeDirectory is set in the core of an ActiveDirectoryReconciler.
	activeDirectory bool
	engine          *engine.Engine[*idpv1alpha1.LDAPIdentityProvider, upstream.Key, upstream.Provider]
}

// NewReconciler returns a Reconciler; the config's Clock, Log, Timeout and Dial may be unset.
func NewReconciler(cfg ReconcilerConfig) *Reconciler {
	r := &Reconciler{ReconcilerConfig: cfg.withDefaults()}
	r.engine = engine.New(engine.Kind[*idpv1alpha1.LDAPIdentityProvider, upstream.Key, upstream.Provider]{
		Name:       "LDAPIdentityProvider",
		Controller: "ldapidentityprovider",
		Noun:       "LDAP identity provider",
		LogAttrs:   []any{"kind", upstream.KindLDAP},
		Namespaced: true,
		Key:        upstream.KeyFunc(upstream.KindLDAP),
		Objects:    engine.ObjectsOf(func(l *idpv1alpha1.LDAPIdentityProviderList) []idpv1alpha1.LDAPIdentityProvider { return l.Items }),
		Validate:   r.validate,
		Describe: func(idp *idpv1alpha1.LDAPIdentityProvider, p upstream.Provider) []any {
			return describe(idp.Spec.Host, p)
		},
		SetStatus: engine.Phase(idpv1alpha1.LDAPPhaseReady, idpv1alpha1.LDAPPhaseError, func(idp *idpv1alpha1.LDAPIdentityProvider) (*idpv1alpha1.LDAPIdentityProviderPhase, *[]metav1.Condition) {
			return &idp.Status.Phase, &idp.Status.Conditions
		}),
		Status: func(idp *idpv1alpha1.LDAPIdentityProvider) any { return idp.Status },
		References: func(idp *idpv1alpha1.LDAPIdentityProvider) (string, tlsconfig.Spec) {
			return idp.Spec.Bind.SecretName, checks.TLSSpec(idp.Spec.TLS)
		},
	}, r.EngineConfig())
	return r
}

// kind is the registry kind of the resources r validates.
func (r *Reconciler) kind() string {
	if r.activeDirectory {
		return upstream.KindActiveDirectory
	}
	return upstream.KindLDAP
}

// describe gives the log attributes of a newly stored provider of either kind.
func describe(host string, p upstream.Provider) []any {
	attrs := []any{"host", host}
	if lp, ok := p.(*Provider); ok {
		attrs = append(attrs, "protocol", lp.Protocol())
	}
	return attrs
}

// SetupWithManager registers the reconciler with mgr, watching the
// LDAPIdentityProviders of Namespace and the Secrets and ConfigMaps they name (bind
// credentials and CA bundles). The manager's cache should be limited to Namespace.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error { return r.engine.Setup(mgr) }

// Reconcile validates one LDAPIdentityProvider, stores its provider in the registry
// when it is Ready and removes it at once otherwise, and writes status. A failed
// connection or bind is retried after a per-resource backoff growing from 1s to 5m;
// configuration errors wait for a change to the resource or to an object it names.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return r.engine.Reconcile(ctx, req)
}

// RequestsFor maps a Secret or ConfigMap to the LDAPIdentityProviders that name it, as
// bind Secret or as CA bundle source.
func (r *Reconciler) RequestsFor(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.engine.RequestsFor(ctx, obj)
}
