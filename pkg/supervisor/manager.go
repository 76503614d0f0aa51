// SPDX-License-Identifier: Apache-2.0

package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	restclient "k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/selkie-dev/selkie/pkg/apis/suffix"
	"github.com/selkie-dev/selkie/pkg/servermetrics"
	"github.com/selkie-dev/selkie/pkg/supervisor/clientregistry"
	"github.com/selkie-dev/selkie/pkg/supervisor/federationdomain"
	"github.com/selkie-dev/selkie/pkg/supervisor/keys"
	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
	upstreamgithub "github.com/selkie-dev/selkie/pkg/supervisor/upstream/github"
	upstreamldap "github.com/selkie-dev/selkie/pkg/supervisor/upstream/ldap"
	upstreamoidc "github.com/selkie-dev/selkie/pkg/supervisor/upstream/oidc"
)

// cacheOptions limits the controllers' cache to the supervisor's namespace, where
// everything it reads lives, and keeps session Secrets out of it: the session store
// reads them from the API server, no controller needs them, and there is one per
// login, so caching them would grow every replica's memory and wake every Secret
// watcher at each login and refresh.
func cacheOptions(namespace string) cache.Options {
	return cache.Options{
		DefaultNamespaces: map[string]cache.Config{namespace: {}},
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Field: fields.OneTermNotEqualSelector("type", string(sessionstore.SessionSecretType))},
		},
	}
}

// newManager builds the controllers. Every replica runs all of them: each serves logins
// from its own router and registry, and their writes (status, key Secrets) use
// optimistic concurrency, so replicas converge without a leader.
func newManager(cfg *restclient.Config, f *serveFlags, store sessionstore.Store, router *federationdomain.Router, log *slog.Logger) (ctrl.Manager, *upstream.Registry, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, nil, err
	}
	if err := suffix.AddToScheme(scheme, f.suffix); err != nil {
		return nil, nil, err
	}
	ctrl.SetLogger(logr.FromSlogHandler(log.Handler()))
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                servermetrics.ServerOptions(f.metricsAddress, f.api.certDir, log.With("component", "metrics")),
		HealthProbeBindAddress: "0",
		Cache:                  cacheOptions(f.namespace),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("controller manager: %w", err)
	}
	kube, err := newKubeClient(cfg)
	if err != nil {
		return nil, nil, err
	}
	registry := upstream.NewRegistry()
	idp := func(controller string) upstream.ControllerConfig {
		return upstream.ControllerConfig{Client: mgr.GetClient(), Registry: registry, Namespace: f.namespace,
			Log: log.With("controller", controller)}
	}
	for _, r := range []interface{ SetupWithManager(ctrl.Manager) error }{
		upstreamoidc.NewReconciler(upstreamoidc.ReconcilerConfig{ControllerConfig: idp("oidcidentityprovider")}),
		upstreamldap.NewReconciler(upstreamldap.ReconcilerConfig{ControllerConfig: idp("ldapidentityprovider")}),
		upstreamldap.NewActiveDirectoryReconciler(upstreamldap.ReconcilerConfig{ControllerConfig: idp("activedirectoryidentityprovider")}),
		upstreamgithub.NewReconciler(upstreamgithub.ReconcilerConfig{ControllerConfig: idp("githubidentityprovider")}),
	} {
		if err := r.SetupWithManager(mgr); err != nil {
			return nil, nil, err
		}
	}
	// OIDCClients and their secret hashes are read through the cache: the controller and
	// every login see a new secret as soon as the cache has its Secret.
	clientSecrets := &clientregistry.SecretStore{Client: mgr.GetClient(), Namespace: f.namespace, OIDCClientAPIVersion: configGroupVersion(f.suffix)}
	if err := (&clientregistry.Reconciler{Client: mgr.GetClient(), Secrets: clientSecrets, Namespace: f.namespace,
		Log: log.With("controller", "oidcclient")}).SetupWithManager(mgr); err != nil {
		return nil, nil, err
	}
	clients := &clientregistry.Lookup{Client: mgr.GetClient(), Secrets: clientSecrets, Namespace: f.namespace}
	fd := &federationdomain.Reconciler{
		Client: mgr.GetClient(), Namespace: f.namespace,
		IdPGroup: suffix.Group("idp.supervisor."+suffix.Default, f.suffix), FDGroupVersion: configGroupVersion(f.suffix),
		Registry: registry, Keys: &keys.Manager{Secrets: kube.CoreV1().Secrets(f.namespace), Policy: keys.Policy{Period: f.keyRotationPeriod}},
		Store: store, Router: router, Lifetimes: f.lifetimes, LogUserInfo: f.logUserInfo, Fingerprint: f.logFingerprint, Limits: f.builtLimits, Clients: clients.Find, Log: log.With("controller", "federationdomain"),
		DefaultTLSSecret: f.defaultTLSSecret,
	}
	if err := fd.SetupWithManager(mgr); err != nil {
		return nil, nil, err
	}
	return mgr, registry, nil
}

// revokeUpstream revokes a session's upstream tokens through the provider that issued
// them, if it is still configured: for the garbage collector (expired sessions) and the
// SupervisorSession API (deleted sessions).
func revokeUpstream(registry *upstream.Registry) func(ctx context.Context, s *sessionstore.Session) error {
	return func(ctx context.Context, s *sessionstore.Session) error {
		p, ok := registry.Get(upstream.Key{Kind: s.IdP.Kind, Name: s.IdP.Name})
		if !ok || p.UID() != s.IdP.UID {
			return nil
		}
		rv, ok := p.(upstream.Revoker)
		if !ok {
			return nil
		}
		if err := rv.RevokeUpstream(ctx, s.UpstreamData); err != nil {
			return errors.Join(errors.New("revoke upstream tokens"), err)
		}
		return nil
	}
}
