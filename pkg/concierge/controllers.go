// SPDX-License-Identifier: Apache-2.0

package concierge

import (
	"fmt"
	"log/slog"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	restclient "k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/selkie-dev/selkie/pkg/apis/suffix"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator/jwt"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator/webhook"
	"github.com/selkie-dev/selkie/pkg/concierge/server"
)

// newManager builds the controller manager. The controllers that turn JWTAuthenticators
// and WebhookAuthenticators into live authenticators run on every replica, since each
// replica serves TokenCredentialRequests from its own cache (the status they write is the
// same everywhere); leader-only work is elected separately (runWhileLeader).
func newManager(cfg *restclient.Config, sfx, namespace string, groups server.Groups, authenticators *authenticator.Cache, metrics metricsserver.Options, log *slog.Logger) (ctrl.Manager, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := suffix.AddToScheme(scheme, sfx); err != nil {
		return nil, err
	}
	ctrl.SetLogger(logr.FromSlogHandler(log.Handler()))
	inNamespace := cache.ByObject{Namespaces: map[string]cache.Config{namespace: {}}}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metrics,
		HealthProbeBindAddress: "0",
		// CA bundles for authenticators live in the concierge's namespace only.
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{&corev1.Secret{}: inNamespace, &corev1.ConfigMap{}: inNamespace}},
	})
	if err != nil {
		return nil, fmt.Errorf("controller manager: %w", err)
	}
	cc := authenticator.ControllerConfig{Client: mgr.GetClient(), Cache: authenticators, APIGroup: groups.Authentication, Namespace: namespace}
	cc.Log = log.With("controller", "jwtauthenticator")
	if err := jwt.NewReconciler(cc).SetupWithManager(mgr); err != nil {
		return nil, err
	}
	cc.Log = log.With("controller", "webhookauthenticator")
	if err := webhook.NewReconciler(cc).SetupWithManager(mgr); err != nil {
		return nil, err
	}
	return mgr, nil
}
