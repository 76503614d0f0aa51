// SPDX-License-Identifier: Apache-2.0

package server

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/selkie-dev/selkie/pkg/apis/concierge/identity"
	identityv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/identity/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/apis/concierge/login"
	loginv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/login/v1alpha1"
)

// DefaultSuffix is Selkie's API group suffix; Pinniped's is pinniped.dev.
const DefaultSuffix = "selkie.dev"

// Groups are the concierge's API groups under one suffix.
type Groups struct {
	Login, Identity, Authentication, Config string
}

// GroupsFor returns the concierge's groups for suffix, which must be a DNS subdomain
// with a dot in it.
func GroupsFor(suffix string) (Groups, error) {
	if errs := validation.IsDNS1123Subdomain(suffix); len(errs) > 0 || !strings.Contains(suffix, ".") {
		return Groups{}, fmt.Errorf("API group suffix %q must be a DNS subdomain containing a dot", suffix)
	}
	return Groups{
		Login: "login.concierge." + suffix, Identity: "identity.concierge." + suffix,
		Authentication: "authentication.concierge." + suffix, Config: "config.concierge." + suffix,
	}, nil
}

// newScheme registers the aggregated kinds (internal and v1alpha1) under the groups of
// the install's suffix. Conversions and defaults are keyed by Go type, so the generated
// functions serve any suffix.
func newScheme(g Groups) (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	loginInternal := schema.GroupVersion{Group: g.Login, Version: runtime.APIVersionInternal}
	loginV1 := schema.GroupVersion{Group: g.Login, Version: "v1alpha1"}
	identityInternal := schema.GroupVersion{Group: g.Identity, Version: runtime.APIVersionInternal}
	identityV1 := schema.GroupVersion{Group: g.Identity, Version: "v1alpha1"}
	s.AddKnownTypes(loginInternal, &login.TokenCredentialRequest{}, &login.TokenCredentialRequestList{})
	s.AddKnownTypes(loginV1, &loginv1alpha1.TokenCredentialRequest{}, &loginv1alpha1.TokenCredentialRequestList{})
	s.AddKnownTypes(identityInternal, &identity.WhoAmIRequest{}, &identity.WhoAmIRequestList{})
	s.AddKnownTypes(identityV1, &identityv1alpha1.WhoAmIRequest{}, &identityv1alpha1.WhoAmIRequestList{})
	metav1.AddToGroupVersion(s, loginV1)
	metav1.AddToGroupVersion(s, identityV1)
	// Types every API server needs for status, discovery and options.
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	s.AddUnversionedTypes(schema.GroupVersion{Version: "v1"},
		&metav1.Status{}, &metav1.APIVersions{}, &metav1.APIGroupList{}, &metav1.APIGroup{}, &metav1.APIResourceList{})
	for _, register := range []func(*runtime.Scheme) error{
		loginv1alpha1.RegisterConversions, loginv1alpha1.RegisterDefaults,
		identityv1alpha1.RegisterConversions, identityv1alpha1.RegisterDefaults,
	} {
		if err := register(s); err != nil {
			return nil, err
		}
	}
	for _, gv := range []schema.GroupVersion{loginV1, identityV1} {
		if err := s.SetVersionPriority(gv); err != nil {
			return nil, err
		}
	}
	return s, nil
}
