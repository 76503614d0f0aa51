// SPDX-License-Identifier: Apache-2.0

package github

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

// DefaultHTTPTimeout bounds each request to an upstream when Reconciler.HTTPTimeout is zero.
const DefaultHTTPTimeout = 30 * time.Second

// Reconciler reconciles the GitHubIdentityProviders of the supervisor's namespace
// into a Registry and writes their status (docs/wire-contract.md §1.9). The API group is
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
	// Log receives the controller's logs (never secrets); nil means slog.Default().
	Log *slog.Logger
	// HTTPTimeout bounds the connection check and each later GitHub request; zero means DefaultHTTPTimeout.
	HTTPTimeout time.Duration

	once   sync.Once
	engine *controller.Engine[*idpv1alpha1.GitHubIdentityProvider]
}

func (r *Reconciler) init() {
	r.once.Do(func() {
		if r.Clock == nil {
			r.Clock = time.Now
		}
		if r.Log == nil {
			r.Log = slog.Default()
		}
		if r.HTTPTimeout == 0 {
			r.HTTPTimeout = DefaultHTTPTimeout
		}
		r.engine = controller.New(controller.Kind[*idpv1alpha1.GitHubIdentityProvider]{
			Name:         "GitHubIdentityProvider",
			Controller:   "githubidentityprovider",
			RegistryKind: upstream.KindGitHub,
			Noun:         "GitHub identity provider",
			New:          func() *idpv1alpha1.GitHubIdentityProvider { return &idpv1alpha1.GitHubIdentityProvider{} },
			List: func(ctx context.Context, c client.Client, ns string) ([]*idpv1alpha1.GitHubIdentityProvider, error) {
				var list idpv1alpha1.GitHubIdentityProviderList
				err := c.List(ctx, &list, client.InNamespace(ns))
				return controller.Ptrs(list.Items), err
			},
			Validate: r.validate,
			Describe: func(idp *idpv1alpha1.GitHubIdentityProvider, p upstream.Provider) []any {
				return []any{"host", idp.Spec.GitHubAPI.Host, "flows", p.Flows()}
			},
			SetStatus: func(idp *idpv1alpha1.GitHubIdentityProvider, ok bool) *[]metav1.Condition {
				idp.Status.Phase = idpv1alpha1.GitHubPhaseError
				if ok {
					idp.Status.Phase = idpv1alpha1.GitHubPhaseReady
				}
				return &idp.Status.Conditions
			},
			Status: func(idp *idpv1alpha1.GitHubIdentityProvider) any { return idp.Status },
			References: func(idp *idpv1alpha1.GitHubIdentityProvider) (string, tlsconfig.Spec) {
				return idp.Spec.Client.SecretName, controller.TLSSpec(idp.Spec.GitHubAPI.TLS)
			},
		}, controller.Config{Client: r.Client, Registry: r.Registry, Namespace: r.Namespace, Clock: r.Clock, Log: r.Log})
	})
}

// SetupWithManager registers the reconciler with mgr, watching the
// GitHubIdentityProviders of Namespace and the Secrets and ConfigMaps they name
// (client credentials and CA bundles). The manager's cache should be limited to
// Namespace.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.init()
	return r.engine.Setup(mgr, r)
}

// Reconcile validates one GitHubIdentityProvider, stores its provider in the
// registry when it is Ready and removes it at once otherwise, and writes status.
// A failed connection check is retried after a per-resource backoff growing from 1s to
// 5m; configuration errors wait for a change to the resource or to an object it names.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	r.init()
	return r.engine.Reconcile(ctx, req)
}

// RequestsFor maps a Secret or ConfigMap to the GitHubIdentityProviders that name it,
// as client Secret or as CA bundle source.
func (r *Reconciler) RequestsFor(ctx context.Context, obj client.Object) []reconcile.Request {
	r.init()
	return r.engine.RequestsFor(ctx, obj)
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
