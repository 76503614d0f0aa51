// SPDX-License-Identifier: Apache-2.0

package crdvalidation_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// wantCRDs lists every generated CRD with its scope and extra categories.
var wantCRDs = map[string]struct {
	scope      apiextensionsv1.ResourceScope
	categories []string
}{
	"authentication.concierge.selkie.dev_jwtauthenticators.yaml":      {apiextensionsv1.ClusterScoped, []string{"selkie", "selkie-authenticator", "selkie-authenticators"}},
	"authentication.concierge.selkie.dev_webhookauthenticators.yaml":  {apiextensionsv1.ClusterScoped, []string{"selkie", "selkie-authenticator", "selkie-authenticators"}},
	"config.concierge.selkie.dev_credentialissuers.yaml":              {apiextensionsv1.ClusterScoped, []string{"selkie"}},
	"config.supervisor.selkie.dev_federationdomains.yaml":             {apiextensionsv1.NamespaceScoped, []string{"selkie"}},
	"config.supervisor.selkie.dev_oidcclients.yaml":                   {apiextensionsv1.NamespaceScoped, []string{"selkie"}},
	"idp.supervisor.selkie.dev_oidcidentityproviders.yaml":            {apiextensionsv1.NamespaceScoped, []string{"selkie", "selkie-idp", "selkie-idps"}},
	"idp.supervisor.selkie.dev_ldapidentityproviders.yaml":            {apiextensionsv1.NamespaceScoped, []string{"selkie", "selkie-idp", "selkie-idps"}},
	"idp.supervisor.selkie.dev_activedirectoryidentityproviders.yaml": {apiextensionsv1.NamespaceScoped, []string{"selkie", "selkie-idp", "selkie-idps"}},
	"idp.supervisor.selkie.dev_githubidentityproviders.yaml":          {apiextensionsv1.NamespaceScoped, []string{"selkie", "selkie-idp", "selkie-idps"}},
}

func TestCRDInventory(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join(crdDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, f := range files {
		got = append(got, filepath.Base(f))
	}
	for name := range wantCRDs {
		want = append(want, name)
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files in %s (-want +got):\n%s", crdDir, diff)
	}
}

// TestCRDs checks that the API server would accept every CRD (structural schema,
// CEL rules compile within the cost budget) and that each has the conventions of
// docs/wire-contract.md: a status subresource, phase and age columns, categories.
func TestCRDs(t *testing.T) {
	t.Parallel()
	for file, want := range wantCRDs {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			v := load(t, file)
			if errs := v.ValidateCRD(context.Background()); len(errs) > 0 {
				t.Errorf("API server would reject the CRD: %v", errs.ToAggregate())
			}
			crd := v.CRD
			if crd.Spec.Scope != want.scope {
				t.Errorf("scope = %s, want %s", crd.Spec.Scope, want.scope)
			}
			if diff := cmp.Diff(want.categories, crd.Spec.Names.Categories); diff != "" {
				t.Errorf("categories (-want +got):\n%s", diff)
			}
			version := crd.Spec.Versions[0]
			if version.Name != "v1alpha1" || !version.Served || !version.Storage {
				t.Errorf("version = %s served=%v storage=%v, want served and stored v1alpha1", version.Name, version.Served, version.Storage)
			}
			if version.Subresources == nil || version.Subresources.Status == nil {
				t.Error("no status subresource")
			}
			var columns []string
			for _, c := range version.AdditionalPrinterColumns {
				columns = append(columns, c.JSONPath)
			}
			if !slices.Contains(columns, ".metadata.creationTimestamp") {
				t.Errorf("printer columns %v lack the age column", columns)
			}
			status := version.Schema.OpenAPIV3Schema.Properties["status"]
			if phase, ok := status.Properties["phase"]; ok {
				if !slices.Contains(columns, ".status.phase") {
					t.Errorf("printer columns %v lack the phase column", columns)
				}
				if phase.Default == nil || string(phase.Default.Raw) != `"Pending"` {
					t.Errorf("status.phase default = %v, want Pending", phase.Default)
				}
				var enum []string
				for _, e := range phase.Enum {
					enum = append(enum, string(e.Raw))
				}
				if diff := cmp.Diff([]string{`"Pending"`, `"Ready"`, `"Error"`}, enum); diff != "" {
					t.Errorf("status.phase enum (-want +got):\n%s", diff)
				}
				conditions := status.Properties["conditions"]
				if conditions.XListType == nil || *conditions.XListType != "map" || !slices.Equal(conditions.XListMapKeys, []string{"type"}) {
					t.Errorf("status.conditions is not a list-map keyed by type")
				}
			} else if crd.Spec.Names.Kind != "CredentialIssuer" {
				t.Errorf("status has no phase")
			}
		})
	}
}
