// SPDX-License-Identifier: Apache-2.0

package federationdomain

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

const idpGroup = "idp.supervisor.selkie.dev"

func fd(uid, issuer, tlsSecret string, idps ...configv1alpha1.FederationDomainIdentityProvider) configv1alpha1.FederationDomain {
	f := configv1alpha1.FederationDomain{ObjectMeta: metav1.ObjectMeta{Name: uid, UID: types.UID(uid)},
		Spec: configv1alpha1.FederationDomainSpec{Issuer: issuer, IdentityProviders: idps}}
	if tlsSecret != "" {
		f.Spec.TLS = &configv1alpha1.FederationDomainTLSSpec{SecretName: tlsSecret}
	}
	return f
}

func ref(display, group, kind, name string) configv1alpha1.FederationDomainIdentityProvider {
	return configv1alpha1.FederationDomainIdentityProvider{DisplayName: display,
		ObjectRef: corev1.TypedLocalObjectReference{APIGroup: &group, Kind: kind, Name: name}}
}

func condition(v *verdict, typ string) metav1.Condition {
	for _, c := range v.conditions {
		if c.Type == typ {
			return c
		}
	}
	return metav1.Condition{}
}

func TestValidateAll(t *testing.T) {
	oidc := upstream.Key{Kind: upstream.KindOIDC, Name: "okta"}
	ldap := upstream.Key{Kind: upstream.KindLDAP, Name: "corp"}
	for _, tc := range []struct {
		name      string
		fds       []configv1alpha1.FederationDomain
		existing  []upstream.Key
		uid       string
		wantReady bool
		wantCond  string
		wantWhy   string
	}{
		{"legacy with one IdP", []configv1alpha1.FederationDomain{fd("a", "https://id.example.com/a", "")}, []upstream.Key{oidc}, "a", true,
			configv1alpha1.ConditionIdentityProvidersFound, configv1alpha1.ReasonLegacyConfigurationSuccess},
		{"legacy with none", []configv1alpha1.FederationDomain{fd("a", "https://id.example.com/a", "")}, nil, "a", false,
			configv1alpha1.ConditionIdentityProvidersFound, configv1alpha1.ReasonLegacyConfigurationIdentityProviderNotFound},
		{"legacy with two", []configv1alpha1.FederationDomain{fd("a", "https://id.example.com/a", "")}, []upstream.Key{oidc, ldap}, "a", false,
			configv1alpha1.ConditionIdentityProvidersFound, configv1alpha1.ReasonIdentityProviderNotSpecified},
		{"duplicate issuer, differing in host case", []configv1alpha1.FederationDomain{fd("a", "https://id.example.com/a", ""), fd("b", "https://ID.example.com/a", "")},
			[]upstream.Key{oidc}, "b", false, configv1alpha1.ConditionIssuerIsUnique, configv1alpha1.ReasonDuplicateIssuer},
		{"two TLS Secrets on one host", []configv1alpha1.FederationDomain{fd("a", "https://id.example.com/a", "s1"), fd("b", "https://id.example.com/b", "s2")},
			[]upstream.Key{oidc}, "a", false, configv1alpha1.ConditionOneTLSSecretPerIssuerHostname, configv1alpha1.ReasonDifferentSecretRefsFound},
		{"trailing slash", []configv1alpha1.FederationDomain{fd("a", "https://id.example.com/a/", "")}, []upstream.Key{oidc}, "a", false,
			configv1alpha1.ConditionIssuerURLValid, "InvalidIssuerURL"},
		{"foreign API group", []configv1alpha1.FederationDomain{fd("a", "https://id.example.com/a", "", ref("x", "idp.supervisor.pinniped.dev", upstream.KindOIDC, "okta"))},
			[]upstream.Key{oidc}, "a", false, configv1alpha1.ConditionIdentityProvidersObjectRefAPIGroupSuffixValid, configv1alpha1.ReasonAPIGroupUnrecognized},
		{"unknown kind", []configv1alpha1.FederationDomain{fd("a", "https://id.example.com/a", "", ref("x", idpGroup, "SAMLIdentityProvider", "okta"))},
			[]upstream.Key{oidc}, "a", false, configv1alpha1.ConditionIdentityProvidersObjectRefKindValid, configv1alpha1.ReasonKindUnrecognized},
		{"missing IdP", []configv1alpha1.FederationDomain{fd("a", "https://id.example.com/a", "", ref("x", idpGroup, upstream.KindLDAP, "nope"))},
			[]upstream.Key{oidc}, "a", false, configv1alpha1.ConditionIdentityProvidersFound, configv1alpha1.ReasonIdentityProvidersObjectRefsNotFound},
		{"duplicate display names", []configv1alpha1.FederationDomain{fd("a", "https://id.example.com/a", "",
			ref("x", idpGroup, upstream.KindOIDC, "okta"), ref("x", idpGroup, upstream.KindLDAP, "corp"))},
			[]upstream.Key{oidc, ldap}, "a", false, configv1alpha1.ConditionIdentityProvidersDisplayNamesUnique, configv1alpha1.ReasonDuplicateDisplayNames},
		{"explicit and valid", []configv1alpha1.FederationDomain{fd("a", "https://id.example.com/a", "",
			ref("x", idpGroup, upstream.KindOIDC, "okta"), ref("y", idpGroup, upstream.KindLDAP, "corp"))},
			[]upstream.Key{oidc, ldap}, "a", true, configv1alpha1.ConditionReady, configv1alpha1.ReasonSuccess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := validateAll(context.Background(), tc.fds, tc.existing, idpGroup)[tc.uid]
			if v.ready != tc.wantReady {
				t.Errorf("ready %v, want %v: %+v", v.ready, tc.wantReady, v.conditions)
			}
			if c := condition(v, tc.wantCond); c.Reason != tc.wantWhy {
				t.Errorf("%s: reason %q (%s), want %q", tc.wantCond, c.Reason, c.Message, tc.wantWhy)
			}
			if ready := condition(v, configv1alpha1.ConditionReady); (ready.Status == metav1.ConditionTrue) != tc.wantReady {
				t.Errorf("Ready condition %v, want %v", ready.Status, tc.wantReady)
			}
		})
	}
}
