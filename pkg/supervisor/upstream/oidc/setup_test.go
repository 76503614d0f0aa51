// SPDX-License-Identifier: Apache-2.0

package oidc_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/selkie-dev/selkie/pkg/apis/suffix"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream/oidc"
)

// TestSetupWithManager checks that the controller registers with a manager whose
// scheme uses a non-default group suffix (nothing is started).
func TestSetupWithManager(t *testing.T) {
	t.Parallel()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := suffix.AddToScheme(s, "pinniped.dev"); err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(&rest.Config{Host: "https://" + closedPort(t)}, ctrl.Options{
		// Controller names are process-global: let `go test -count=N` build it again.
		Controller: config.Controller{SkipNameValidation: new(true)},
		Scheme:     s, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
	})
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	r := oidc.NewReconciler(oidc.ReconcilerConfig{ControllerConfig: upstream.ControllerConfig{Client: mgr.GetClient(), Registry: upstream.NewRegistry(), Namespace: ns}})
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatalf("SetupWithManager: %v", err)
	}
}
