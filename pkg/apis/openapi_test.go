// SPDX-License-Identifier: Apache-2.0

package apis_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/selkie-dev/selkie/generated/openapi"
)

// TestOpenAPIDefinitionsComplete checks that the generated OpenAPI definitions
// cover every aggregated kind and every type they reference, which the
// aggregated API servers need to publish /openapi/v2 and /openapi/v3.
func TestOpenAPIDefinitionsComplete(t *testing.T) {
	t.Parallel()
	referenced := map[string]bool{}
	defs := openapi.GetOpenAPIDefinitions(func(path string) spec.Ref {
		referenced[path] = true
		return spec.MustCreateRef("#/definitions/" + common.EscapeJsonPointer(path))
	})
	const apis = "github.com/selkie-dev/selkie/pkg/apis/"
	for _, name := range []string{
		apis + "concierge/login/v1alpha1.TokenCredentialRequest",
		apis + "concierge/login/v1alpha1.TokenCredentialRequestList",
		apis + "concierge/identity/v1alpha1.WhoAmIRequest",
		apis + "concierge/identity/v1alpha1.WhoAmIRequestList",
		apis + "supervisor/clientsecret/v1alpha1.OIDCClientSecretRequest",
		apis + "supervisor/clientsecret/v1alpha1.OIDCClientSecretRequestList",
		metav1.Status{}.OpenAPIModelName(),
		metav1.APIGroupList{}.OpenAPIModelName(),
		corev1.TypedLocalObjectReference{}.OpenAPIModelName(),
	} {
		referenced[name] = true
	}
	for name, def := range defs {
		for _, dep := range def.Dependencies {
			referenced[dep] = true
		}
		if def.Schema.Description == "" && len(def.Schema.Type) == 0 && def.Schema.Ref.String() == "" {
			t.Errorf("definition %s is empty", name)
		}
	}
	for name := range referenced {
		if _, ok := defs[name]; !ok {
			t.Errorf("no OpenAPI definition for %s", name)
		}
	}
}
