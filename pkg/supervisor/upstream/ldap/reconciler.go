// SPDX-License-Identifier: Apache-2.0

package ldap

import (
	"context"
	"log/slog"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream/internal/controller"
	"github.com/selkie-dev/selkie/pkg/tlsconfig"
)

// Reconciler reconciles the LDAPIdentityProviders of the supervisor's namespace into a
// Registry and writes their status (docs/wire-contract.md §1.8). The API group is whatever the
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
	// Log receives the controller's logs (never secrets); nil means slog.Default().
	Log *slog.Logger
	// Timeout bounds dialing and each LDAP request, in the probe and in every later
	// login; zero means DefaultTimeout.
	Timeout time.Duration
	// Dial opens connections, for the probe and the providers; nil means Dial.
	Dial DialFunc

	// activeDirectory is set by ActiveDirectoryReconciler for its core.
	activeDirectory bool

	once   sync.Once
	engine *controller.Engine[*idpv1alpha1.LDAPIdentityProvider]
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
		r.setDefaults()
		r.engine = controller.New(controller.Kind[*idpv1alpha1.LDAPIdentityProvider]{
			Name:         "LDAPIdentityProvider",
			Controller:   "ldapidentityprovider",
			RegistryKind: upstream.KindLDAP,
			Noun:         "LDAP identity provider",
			LogAttrs:     []any{"kind", upstream.KindLDAP},
			New:          func() *idpv1alpha1.LDAPIdentityProvider { return &idpv1alpha1.LDAPIdentityProvider{} },
			List: func(ctx context.Context, c client.Client, ns string) ([]*idpv1alpha1.LDAPIdentityProvider, error) {
				var list idpv1alpha1.LDAPIdentityProviderList
				err := c.List(ctx, &list, client.InNamespace(ns))
				return controller.Ptrs(list.Items), err
			},
			Validate: r.validate,
			Describe: func(idp *idpv1alpha1.LDAPIdentityProvider, p upstream.Provider) []any {
				return describe(idp.Spec.Host, p)
			},
			SetStatus: func(idp *idpv1alpha1.LDAPIdentityProvider, ok bool) *[]metav1.Condition {
				idp.Status.Phase = idpv1alpha1.LDAPPhaseError
				if ok {
					idp.Status.Phase = idpv1alpha1.LDAPPhaseReady
				}
				return &idp.Status.Conditions
			},
			Status: func(idp *idpv1alpha1.LDAPIdentityProvider) any { return idp.Status },
			References: func(idp *idpv1alpha1.LDAPIdentityProvider) (string, tlsconfig.Spec) {
				return idp.Spec.Bind.SecretName, controller.TLSSpec(idp.Spec.TLS)
			},
		}, r.engineConfig())
	})
}

// setDefaults fills the unset optional fields.
func (r *Reconciler) setDefaults() {
	if r.Clock == nil {
		r.Clock = time.Now
	}
	if r.Log == nil {
		r.Log = slog.Default()
	}
	if r.Timeout == 0 {
		r.Timeout = DefaultTimeout
	}
	if r.Dial == nil {
		r.Dial = Dial
	}
}

// engineConfig is the engine configuration of r, after setDefaults.
func (r *Reconciler) engineConfig() controller.Config {
	return controller.Config{Client: r.Client, Registry: r.Registry, Namespace: r.Namespace, Clock: r.Clock, Log: r.Log}
}

// describe gives the log attributes of a newly stored provider of either kind.
func describe(host string, p upstream.Provider) []any {
	return []any{"host", host, "protocol", p.(*Provider).Protocol()}
}

// SetupWithManager registers the reconciler with mgr, watching the
// LDAPIdentityProviders of Namespace and the Secrets and ConfigMaps they name (bind
// credentials and CA bundles). The manager's cache should be limited to Namespace.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.init()
	return r.engine.Setup(mgr, r)
}

// Reconcile validates one LDAPIdentityProvider, stores its provider in the registry
// when it is Ready and removes it at once otherwise, and writes status. A failed
// connection or bind is retried after a per-resource backoff growing from 1s to 5m;
// configuration errors wait for a change to the resource or to an object it names.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	r.init()
	return r.engine.Reconcile(ctx, req)
}

// RequestsFor maps a Secret or ConfigMap to the LDAPIdentityProviders that name it, as
// bind Secret or as CA bundle source.
func (r *Reconciler) RequestsFor(ctx context.Context, obj client.Object) []reconcile.Request {
	r.init()
	return r.engine.RequestsFor(ctx, obj)
}

// current returns the registry's provider for name, or nil when there is none.
func (r *Reconciler) current(name string) *Provider {
	p, _ := r.Registry.Get(r.key(name))
	lp, _ := p.(*Provider)
	return lp
}
