// SPDX-License-Identifier: Apache-2.0

package suffix_test

import (
	"context"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/apis/suffix"
	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
)

func TestAddToScheme(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		suffix    string
		wantGroup string // of JWTAuthenticator; empty when an error is wanted
	}{
		{name: "reference suffix", suffix: "pinniped.dev", wantGroup: "authentication.concierge.pinniped.dev"},
		{name: "default suffix", suffix: "selkie.dev", wantGroup: authenticationv1alpha1.GroupName},
		{name: "deeper suffix", suffix: "sso.example.com", wantGroup: "authentication.concierge.sso.example.com"},
		{name: "empty", suffix: ""},
		{name: "no dot", suffix: "pinniped"},
		{name: "upper case", suffix: "Pinniped.dev"},
		{name: "leading dash", suffix: "-pinniped.dev"},
		{name: "trailing dot", suffix: "pinniped.dev."},
		{name: "empty label", suffix: "pinniped..dev"},
		{name: "underscore", suffix: "pin_niped.dev"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := runtime.NewScheme()
			err := suffix.AddToScheme(s, tc.suffix)
			if tc.wantGroup == "" {
				if err == nil {
					t.Fatalf("AddToScheme(%q) succeeded, want an error", tc.suffix)
				}
				if len(s.AllKnownTypes()) != 0 {
					t.Errorf("AddToScheme(%q) failed but registered types", tc.suffix)
				}
				return
			}
			if err != nil {
				t.Fatalf("AddToScheme(%q): %v", tc.suffix, err)
			}
			gvk, err := apiutil.GVKForObject(&authenticationv1alpha1.JWTAuthenticator{}, s)
			if err != nil {
				t.Fatal(err)
			}
			want := schema.GroupVersionKind{Group: tc.wantGroup, Version: "v1alpha1", Kind: "JWTAuthenticator"}
			if diff := cmp.Diff(want, gvk); diff != "" {
				t.Errorf("JWTAuthenticator kind (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAddToSchemeKinds checks that every CRD kind and List kind lands in its
// renamed group, and that nothing stays in the default groups.
func TestAddToSchemeKinds(t *testing.T) {
	t.Parallel()
	s := runtime.NewScheme()
	if err := suffix.AddToScheme(s, "pinniped.dev"); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for gvk := range s.AllKnownTypes() {
		if gvk.Version != "v1alpha1" || slices.Contains([]string{"ListOptions", "GetOptions", "DeleteOptions",
			"CreateOptions", "UpdateOptions", "PatchOptions", "WatchEvent"}, gvk.Kind) {
			continue
		}
		got[gvk.Group] = append(got[gvk.Group], gvk.Kind)
	}
	for _, kinds := range got {
		slices.Sort(kinds)
	}
	want := map[string][]string{
		"authentication.concierge.pinniped.dev": {"JWTAuthenticator", "JWTAuthenticatorList", "WebhookAuthenticator", "WebhookAuthenticatorList"},
		"config.concierge.pinniped.dev":         {"CredentialIssuer", "CredentialIssuerList"},
		"config.supervisor.pinniped.dev":        {"FederationDomain", "FederationDomainList", "OIDCClient", "OIDCClientList"},
		"idp.supervisor.pinniped.dev": {
			"ActiveDirectoryIdentityProvider", "ActiveDirectoryIdentityProviderList",
			"GitHubIdentityProvider", "GitHubIdentityProviderList",
			"LDAPIdentityProvider", "LDAPIdentityProviderList",
			"OIDCIdentityProvider", "OIDCIdentityProviderList",
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("registered kinds (-want +got):\n%s", diff)
	}
	if !s.Recognizes(schema.GroupVersionKind{Group: "idp.supervisor.pinniped.dev", Version: "v1alpha1", Kind: "ListOptions"}) {
		t.Error("meta/v1 options are not registered in the renamed groups")
	}
}

func TestGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		base, suffix, want string
	}{
		{"authentication.concierge.selkie.dev", "pinniped.dev", "authentication.concierge.pinniped.dev"},
		{"idp.supervisor.selkie.dev", "selkie.dev", "idp.supervisor.selkie.dev"},
		{"config.supervisor.selkie.dev", "sso.example.com", "config.supervisor.sso.example.com"},
		{"authentication.k8s.io", "pinniped.dev", "authentication.k8s.io"},
		{"notselkie.dev", "pinniped.dev", "notselkie.dev"},
	}
	for _, tc := range tests {
		if got := suffix.Group(tc.base, tc.suffix); got != tc.want {
			t.Errorf("Group(%q, %q) = %q, want %q", tc.base, tc.suffix, got, tc.want)
		}
	}
}

// TestFakeClientRoundTrip checks that a controller-runtime client built on a
// suffixed scheme stores and returns authenticators and identity providers.
func TestFakeClientRoundTrip(t *testing.T) {
	t.Parallel()
	s := runtime.NewScheme()
	if err := suffix.AddToScheme(s, "pinniped.dev"); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(s).
		WithStatusSubresource(&authenticationv1alpha1.JWTAuthenticator{}).Build()
	ctx := context.Background()

	in := &authenticationv1alpha1.JWTAuthenticator{
		ObjectMeta: metav1.ObjectMeta{Name: "supervisor"},
		Spec: authenticationv1alpha1.JWTAuthenticatorSpec{
			Issuer:   "https://issuer.example.com",
			Audience: "workload-cluster",
			Claims:   authenticationv1alpha1.JWTTokenClaims{Username: "email"},
		},
	}
	if err := c.Create(ctx, in); err != nil {
		t.Fatal(err)
	}
	in.Status.Phase = authenticationv1alpha1.JWTAuthenticatorPhaseReady
	if err := c.Status().Update(ctx, in); err != nil {
		t.Fatal(err)
	}

	var got authenticationv1alpha1.JWTAuthenticator
	if err := c.Get(ctx, client.ObjectKey{Name: "supervisor"}, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in.Spec, got.Spec); diff != "" {
		t.Errorf("spec after round trip (-want +got):\n%s", diff)
	}
	if got.Status.Phase != authenticationv1alpha1.JWTAuthenticatorPhaseReady {
		t.Errorf("status.phase = %q, want Ready", got.Status.Phase)
	}
	if got.APIVersion != "" && got.APIVersion != "authentication.concierge.pinniped.dev/v1alpha1" {
		t.Errorf("apiVersion = %q", got.APIVersion)
	}

	var list authenticationv1alpha1.JWTAuthenticatorList
	if err := c.List(ctx, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "supervisor" {
		t.Errorf("List returned %d items", len(list.Items))
	}

	idp := &idpv1alpha1.LDAPIdentityProvider{ObjectMeta: metav1.ObjectMeta{Namespace: "selkie-supervisor", Name: "ldap"}}
	if err := c.Create(ctx, idp); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(idp), &idpv1alpha1.LDAPIdentityProvider{}); err != nil {
		t.Fatal(err)
	}
}
