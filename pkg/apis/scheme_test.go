// SPDX-License-Identifier: Apache-2.0

package apis_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	conciergeconfigv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
	identityinstall "github.com/selkie-dev/selkie/pkg/apis/concierge/identity/install"
	logininstall "github.com/selkie-dev/selkie/pkg/apis/concierge/login/install"
	clientsecretinstall "github.com/selkie-dev/selkie/pkg/apis/supervisor/clientsecret/install"
	supervisorconfigv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	sessioninstall "github.com/selkie-dev/selkie/pkg/apis/supervisor/session/install"
)

// TestSchemeRegistration checks that every kind of the docs/wire-contract.md §0.1 is
// registered under its group with the default suffix, with a List kind, and for
// the aggregated groups also in the internal version.
func TestSchemeRegistration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		group    string
		install  func(*runtime.Scheme) error
		kinds    []string
		internal bool
	}{
		{
			group:   "authentication.concierge.selkie.dev",
			install: authenticationv1alpha1.AddToScheme,
			kinds:   []string{"JWTAuthenticator", "WebhookAuthenticator"},
		},
		{
			group:   "config.concierge.selkie.dev",
			install: conciergeconfigv1alpha1.AddToScheme,
			kinds:   []string{"CredentialIssuer"},
		},
		{
			group:    "login.concierge.selkie.dev",
			install:  withInstall(logininstall.Install),
			kinds:    []string{"TokenCredentialRequest"},
			internal: true,
		},
		{
			group:    "identity.concierge.selkie.dev",
			install:  withInstall(identityinstall.Install),
			kinds:    []string{"WhoAmIRequest"},
			internal: true,
		},
		{
			group:   "config.supervisor.selkie.dev",
			install: supervisorconfigv1alpha1.AddToScheme,
			kinds:   []string{"FederationDomain", "OIDCClient"},
		},
		{
			group:   "idp.supervisor.selkie.dev",
			install: idpv1alpha1.AddToScheme,
			kinds:   []string{"ActiveDirectoryIdentityProvider", "GitHubIdentityProvider", "LDAPIdentityProvider", "OIDCIdentityProvider"},
		},
		{
			group:    "clientsecret.supervisor.selkie.dev",
			install:  withInstall(clientsecretinstall.Install),
			kinds:    []string{"OIDCClientSecretRequest"},
			internal: true,
		},
		{
			group:    "session.supervisor.selkie.dev",
			install:  withInstall(sessioninstall.Install),
			kinds:    []string{"SupervisorSession"},
			internal: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.group, func(t *testing.T) {
			t.Parallel()
			scheme := runtime.NewScheme()
			if err := tc.install(scheme); err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, k := range tc.kinds {
				want = append(want, k, k+"List")
			}
			slices.Sort(want)

			versions := []string{"v1alpha1"}
			if tc.internal {
				versions = append(versions, runtime.APIVersionInternal)
			}
			for _, version := range versions {
				gv := schema.GroupVersion{Group: tc.group, Version: version}
				var got []string
				for gvk, typ := range scheme.AllKnownTypes() {
					if gvk.GroupVersion() != gv || isMetaKind(gvk.Kind) {
						continue
					}
					got = append(got, gvk.Kind)
					if typ.Name() != gvk.Kind {
						t.Errorf("%s is registered as Go type %s", gvk, typ)
					}
					checkNewAndDeepCopy(t, scheme, gvk, typ)
				}
				slices.Sort(got)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("kinds in %s (-want +got):\n%s", gv, diff)
				}
			}
			if tc.internal {
				if got := scheme.PrioritizedVersionsForGroup(tc.group); len(got) != 1 || got[0].Version != "v1alpha1" {
					t.Errorf("prioritized versions = %v, want only v1alpha1", got)
				}
			}
		})
	}
}

func withInstall(install func(*runtime.Scheme)) func(*runtime.Scheme) error {
	return func(s *runtime.Scheme) error {
		install(s)
		return nil
	}
}

// isMetaKind reports the option kinds that metav1.AddToGroupVersion registers in
// every group.
func isMetaKind(kind string) bool {
	switch kind {
	case "WatchEvent", "ListOptions", "GetOptions", "DeleteOptions", "CreateOptions", "UpdateOptions", "PatchOptions":
		return true
	}
	return false
}

func checkNewAndDeepCopy(t *testing.T, scheme *runtime.Scheme, gvk schema.GroupVersionKind, typ reflect.Type) {
	t.Helper()
	obj, err := scheme.New(gvk)
	if err != nil {
		t.Errorf("New(%s): %v", gvk, err)
		return
	}
	if reflect.TypeOf(obj).Elem() != typ {
		t.Errorf("New(%s) = %T, want %s", gvk, obj, typ)
	}
	if cp := obj.DeepCopyObject(); cp == obj || !reflect.DeepEqual(cp, obj) {
		t.Errorf("DeepCopyObject of %s is not an equal copy", gvk)
	}
}
