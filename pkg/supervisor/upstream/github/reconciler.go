// SPDX-License-Identifier: Apache-2.0

package github

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

// DefaultHTTPTimeout bounds each request to an upstream when ReconcilerConfig.HTTPTimeout is zero.
const DefaultHTTPTimeout = 30 * time.Second

// ReconcilerConfig configures a Reconciler.
type ReconcilerConfig struct {
	upstream.ControllerConfig
	// HTTPTimeout bounds the connection check and each later GitHub request; zero means DefaultHTTPTimeout.
	HTTPTimeout time.Duration
}

// Reconciler reconciles the GitHubIdentityProviders of the supervisor's namespace into a Registry
// and writes their status (docs/wire-contract.md §1.9).
type Reconciler struct {
	ReconcilerConfig
	engine *engine.Engine[*idpv1alpha1.GitHubIdentityProvider, upstream.Key, upstream.Provider]
}

// NewReconciler returns a Reconciler; the config's Clock, Log and HTTPTimeout may be unset.
func NewReconciler(cfg ReconcilerConfig) *Reconciler {
	cfg.ControllerConfig = cfg.WithDefaults()
	if cfg.HTTPTimeout == 0 {
		cfg.HTTPTimeout = DefaultHTTPTimeout
	}
	r := &Reconciler{ReconcilerConfig: cfg}
	r.engine = engine.New(engine.Kind[*idpv1alpha1.GitHubIdentityProvider, upstream.Key, upstream.Provider]{
		Name:       "GitHubIdentityProvider",
		Controller: "githubidentityprovider",
		Noun:       "GitHub identity provider",
		LogAttrs:   []any{"kind", upstream.KindGitHub},
		Namespaced: true,
		Key:        upstream.KeyFunc(upstream.KindGitHub),
		Objects:    engine.ObjectsOf(func(l *idpv1alpha1.GitHubIdentityProviderList) []idpv1alpha1.GitHubIdentityProvider { return l.Items }),
		Validate:   r.validate,
		Describe: func(idp *idpv1alpha1.GitHubIdentityProvider, p upstream.Provider) []any {
			return []any{"host", idp.Spec.GitHubAPI.Host, "flows", p.Flows()}
		},
		SetStatus: engine.Phase(idpv1alpha1.GitHubPhaseReady, idpv1alpha1.GitHubPhaseError, func(idp *idpv1alpha1.GitHubIdentityProvider) (*idpv1alpha1.GitHubIdentityProviderPhase, *[]metav1.Condition) {
			return &idp.Status.Phase, &idp.Status.Conditions
		}),
		Status: func(idp *idpv1alpha1.GitHubIdentityProvider) any { return idp.Status },
		References: func(idp *idpv1alpha1.GitHubIdentityProvider) (string, tlsconfig.Spec) {
			return idp.Spec.Client.SecretName, checks.TLSSpec(idp.Spec.GitHubAPI.TLS)
		},
	}, cfg.EngineConfig())
	return r
}

// SetupWithManager registers the reconciler with mgr, watching the
// GitHubIdentityProviders of Namespace and the Secrets and ConfigMaps they name
// (client credentials and CA bundles). The manager's cache should be limited to
// Namespace.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error { return r.engine.Setup(mgr) }

// Reconcile validates one GitHubIdentityProvider, stores its provider in the
// registry when it is Ready and removes it at once otherwise, and writes status.
// A failed connection check is retried after a per-resource backoff growing from 1s to
// 5m; configuration errors wait for a change to the resource or to an object it names.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return r.engine.Reconcile(ctx, req)
}

// RequestsFor maps a Secret or ConfigMap to the GitHubIdentityProviders that name it,
// as client Secret or as CA bundle source.
func (r *Reconciler) RequestsFor(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.engine.RequestsFor(ctx, obj)
}
