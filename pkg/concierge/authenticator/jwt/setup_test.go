// SPDX-License-Identifier: Apache-2.0

package jwt_test

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/selkie-dev/selkie/pkg/apis/suffix"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator/jwt"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator/webhook"
)

// staticMapper stands in for API discovery: every kind in s is namespaced
// except the cluster-scoped authenticators.
func staticMapper(s *runtime.Scheme) func(*rest.Config, *http.Client) (meta.RESTMapper, error) {
	return func(*rest.Config, *http.Client) (meta.RESTMapper, error) {
		m := meta.NewDefaultRESTMapper(nil)
		for gvk := range s.AllKnownTypes() {
			scope := meta.RESTScopeNamespace
			if strings.HasSuffix(gvk.Kind, "Authenticator") {
				scope = meta.RESTScopeRoot
			}
			m.Add(gvk, scope)
		}
		return m, nil
	}
}

// TestSetupWithManager wires both authenticator controllers into one manager
// the way the concierge does; nothing contacts an API server until Start.
func TestSetupWithManager(t *testing.T) {
	t.Parallel()
	const namespace = "selkie-concierge"
	s := runtime.NewScheme()
	if err := suffix.AddToScheme(s, "pinniped.dev"); err != nil {
		t.Fatal(err)
	}
	if err := corev1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(&rest.Config{Host: "https://127.0.0.1:1"}, ctrl.Options{
		// Controller names are process-global: let `go test -count=N` build it again.
		Controller:     config.Controller{SkipNameValidation: new(true)},
		Scheme:         s,
		Metrics:        metricsserver.Options{BindAddress: "0"},
		MapperProvider: staticMapper(s),
		// Only the concierge's own Secrets and ConfigMaps are cached and watched.
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}:    {Namespaces: map[string]cache.Config{namespace: {}}},
			&corev1.ConfigMap{}: {Namespaces: map[string]cache.Config{namespace: {}}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	authnCache := authenticator.NewCache()
	group := suffix.Group("authentication.concierge.selkie.dev", "pinniped.dev")
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := jwt.NewReconciler(authenticator.ControllerConfig{
		Client: mgr.GetClient(), Cache: authnCache, APIGroup: group, Namespace: namespace, Log: logger,
	}).SetupWithManager(mgr); err != nil {
		t.Fatalf("jwt SetupWithManager: %v", err)
	}
	if err := webhook.NewReconciler(authenticator.ControllerConfig{
		Client: mgr.GetClient(), Cache: authnCache, APIGroup: group, Namespace: namespace, Log: logger,
	}).SetupWithManager(mgr); err != nil {
		t.Fatalf("webhook SetupWithManager: %v", err)
	}
}
