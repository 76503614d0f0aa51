// SPDX-License-Identifier: Apache-2.0

package suffix

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	conciergeconfigv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
	supervisorconfigv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
)

// Default is the group suffix the API packages declare.
const Default = "selkie.dev"

// Validate reports whether s can be used as a group suffix: a DNS-1123
// subdomain that contains at least one dot.
func Validate(s string) error {
	if errs := validation.IsDNS1123Subdomain(s); len(errs) > 0 {
		return fmt.Errorf("invalid API group suffix %q: %s", s, strings.Join(errs, "; "))
	}
	if !strings.Contains(s, ".") {
		return fmt.Errorf("invalid API group suffix %q: must contain a dot, like %q", s, Default)
	}
	return nil
}

// Group returns baseGroup with its default suffix replaced by s, so
// Group("authentication.concierge.selkie.dev", "pinniped.dev") is
// "authentication.concierge.pinniped.dev". A group that does not end in
// ".selkie.dev" is returned unchanged. Group does not validate s; see Validate.
func Group(baseGroup, s string) string {
	prefix, ok := strings.CutSuffix(baseGroup, "."+Default)
	if !ok {
		return baseGroup
	}
	return prefix + "." + s
}

// crdGroup is one CRD API group's default group version and Go types.
type crdGroup struct {
	gv    schema.GroupVersion
	types []runtime.Object
}

// crdGroups lists every CRD kind and its List kind, grouped by API group.
func crdGroups() []crdGroup {
	return []crdGroup{
		{gv: authenticationv1alpha1.SchemeGroupVersion, types: []runtime.Object{
			&authenticationv1alpha1.JWTAuthenticator{}, &authenticationv1alpha1.JWTAuthenticatorList{},
			&authenticationv1alpha1.WebhookAuthenticator{}, &authenticationv1alpha1.WebhookAuthenticatorList{},
		}},
		{gv: conciergeconfigv1alpha1.SchemeGroupVersion, types: []runtime.Object{
			&conciergeconfigv1alpha1.CredentialIssuer{}, &conciergeconfigv1alpha1.CredentialIssuerList{},
		}},
		{gv: supervisorconfigv1alpha1.SchemeGroupVersion, types: []runtime.Object{
			&supervisorconfigv1alpha1.FederationDomain{}, &supervisorconfigv1alpha1.FederationDomainList{},
			&supervisorconfigv1alpha1.OIDCClient{}, &supervisorconfigv1alpha1.OIDCClientList{},
		}},
		{gv: idpv1alpha1.SchemeGroupVersion, types: []runtime.Object{
			&idpv1alpha1.OIDCIdentityProvider{}, &idpv1alpha1.OIDCIdentityProviderList{},
			&idpv1alpha1.LDAPIdentityProvider{}, &idpv1alpha1.LDAPIdentityProviderList{},
			&idpv1alpha1.ActiveDirectoryIdentityProvider{}, &idpv1alpha1.ActiveDirectoryIdentityProviderList{},
			&idpv1alpha1.GitHubIdentityProvider{}, &idpv1alpha1.GitHubIdentityProviderList{},
		}},
	}
}

// AddToScheme registers every CRD kind and its List kind in s under the groups
// of suffix sfx, together with the meta/v1 options types of each group version.
//
// Do not also add the API packages' own AddToScheme to the same scheme with a
// non-default suffix: a Go type registered under two groups makes its kind
// ambiguous to clients such as controller-runtime's.
func AddToScheme(s *runtime.Scheme, sfx string) error {
	if err := Validate(sfx); err != nil {
		return err
	}
	for _, g := range crdGroups() {
		gv := schema.GroupVersion{Group: Group(g.gv.Group, sfx), Version: g.gv.Version}
		s.AddKnownTypes(gv, g.types...)
		metav1.AddToGroupVersion(s, gv)
	}
	return nil
}
