// SPDX-License-Identifier: Apache-2.0

package apis_test

import (
	"math/rand"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/randfill"

	"github.com/selkie-dev/selkie/pkg/apis/concierge/identity"
	identityinstall "github.com/selkie-dev/selkie/pkg/apis/concierge/identity/install"
	identityv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/identity/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/apis/concierge/login"
	logininstall "github.com/selkie-dev/selkie/pkg/apis/concierge/login/install"
	loginv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/login/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/apis/supervisor/clientsecret"
	clientsecretinstall "github.com/selkie-dev/selkie/pkg/apis/supervisor/clientsecret/install"
	clientsecretv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/clientsecret/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/apis/supervisor/session"
	sessioninstall "github.com/selkie-dev/selkie/pkg/apis/supervisor/session/install"
	sessionv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/session/v1alpha1"
)

// aggregatedKinds pairs every versioned kind of the aggregated APIs with its
// internal kind.
func aggregatedKinds() []struct {
	name              string
	versioned, hub    func() runtime.Object
	installIntoScheme func(*runtime.Scheme)
} {
	return []struct {
		name              string
		versioned, hub    func() runtime.Object
		installIntoScheme func(*runtime.Scheme)
	}{
		{"TokenCredentialRequest", func() runtime.Object { return &loginv1alpha1.TokenCredentialRequest{} }, func() runtime.Object { return &login.TokenCredentialRequest{} }, logininstall.Install},
		{"TokenCredentialRequestList", func() runtime.Object { return &loginv1alpha1.TokenCredentialRequestList{} }, func() runtime.Object { return &login.TokenCredentialRequestList{} }, logininstall.Install},
		{"WhoAmIRequest", func() runtime.Object { return &identityv1alpha1.WhoAmIRequest{} }, func() runtime.Object { return &identity.WhoAmIRequest{} }, identityinstall.Install},
		{"WhoAmIRequestList", func() runtime.Object { return &identityv1alpha1.WhoAmIRequestList{} }, func() runtime.Object { return &identity.WhoAmIRequestList{} }, identityinstall.Install},
		{"OIDCClientSecretRequest", func() runtime.Object { return &clientsecretv1alpha1.OIDCClientSecretRequest{} }, func() runtime.Object { return &clientsecret.OIDCClientSecretRequest{} }, clientsecretinstall.Install},
		{"OIDCClientSecretRequestList", func() runtime.Object { return &clientsecretv1alpha1.OIDCClientSecretRequestList{} }, func() runtime.Object { return &clientsecret.OIDCClientSecretRequestList{} }, clientsecretinstall.Install},
		{"SupervisorSession", func() runtime.Object { return &sessionv1alpha1.SupervisorSession{} }, func() runtime.Object { return &session.SupervisorSession{} }, sessioninstall.Install},
		{"SupervisorSessionList", func() runtime.Object { return &sessionv1alpha1.SupervisorSessionList{} }, func() runtime.Object { return &session.SupervisorSessionList{} }, sessioninstall.Install},
	}
}

// TestConversionRoundTrip converts randomly filled objects of every aggregated
// kind to the other version and back, both ways, and expects no change.
func TestConversionRoundTrip(t *testing.T) {
	t.Parallel()
	for _, kind := range aggregatedKinds() {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			scheme := runtime.NewScheme()
			kind.installIntoScheme(scheme)
			filler := randfill.NewWithSeed(rand.Int63()).NilChance(0.2).NumElements(0, 3)
			for i := 0; i < 50; i++ {
				for _, start := range []struct {
					from, via func() runtime.Object
				}{{kind.versioned, kind.hub}, {kind.hub, kind.versioned}} {
					original := start.from()
					filler.Fill(original)
					// Convert sets the top-level kind itself; only the content matters.
					original.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{})
					via, back := start.via(), start.from()
					if err := scheme.Convert(original.DeepCopyObject(), via, nil); err != nil {
						t.Fatalf("convert %T to %T: %v", original, via, err)
					}
					if err := scheme.Convert(via, back, nil); err != nil {
						t.Fatalf("convert %T to %T: %v", via, back, err)
					}
					if !apiequality.Semantic.DeepEqual(original, back) {
						t.Fatalf("%T changed in a round trip through %T (-original +back):\n%s", original, via, cmp.Diff(original, back))
					}
				}
			}
		})
	}
}

// TestAggregatedDefaults checks that the registered defaulters leave every
// aggregated kind unchanged: docs/wire-contract.md defines no defaults for them, so
// the server must see requests exactly as sent.
func TestAggregatedDefaults(t *testing.T) {
	t.Parallel()
	for _, kind := range aggregatedKinds() {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			scheme := runtime.NewScheme()
			kind.installIntoScheme(scheme)
			filler := randfill.NewWithSeed(rand.Int63()).NilChance(0.5).NumElements(0, 2)
			for i := 0; i < 20; i++ {
				obj := kind.versioned()
				filler.Fill(obj)
				defaulted := obj.DeepCopyObject()
				scheme.Default(defaulted)
				if !apiequality.Semantic.DeepEqual(obj, defaulted) {
					t.Fatalf("defaulting changed %T (-before +after):\n%s", obj, cmp.Diff(obj, defaulted))
				}
			}
		})
	}
}
