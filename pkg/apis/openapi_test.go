// SPDX-License-Identifier: Apache-2.0

package apis_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/selkie-dev/selkie/generated/openapi"
	identityv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/identity/v1alpha1"
	loginv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/login/v1alpha1"
	clientsecretv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/clientsecret/v1alpha1"
	sessionv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/session/v1alpha1"
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
	// The aggregated kinds have model names (zz_generated.model_name.go), which the API
	// server's definition namer and managed-fields type converter look them up by.
	for _, name := range []string{
		"dev.selkie.concierge.login.v1alpha1.TokenCredentialRequest",
		loginv1alpha1.TokenCredentialRequestList{}.OpenAPIModelName(),
		identityv1alpha1.WhoAmIRequest{}.OpenAPIModelName(),
		identityv1alpha1.WhoAmIRequestList{}.OpenAPIModelName(),
		clientsecretv1alpha1.OIDCClientSecretRequest{}.OpenAPIModelName(),
		clientsecretv1alpha1.OIDCClientSecretRequestList{}.OpenAPIModelName(),
		sessionv1alpha1.SupervisorSession{}.OpenAPIModelName(),
		sessionv1alpha1.SupervisorSessionList{}.OpenAPIModelName(),
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
