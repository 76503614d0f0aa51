// SPDX-License-Identifier: Apache-2.0

package crdvalidation_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
)

const githubFile = "idp.supervisor.selkie.dev_githubidentityproviders.yaml"

const githubHeader = `
apiVersion: idp.supervisor.selkie.dev/v1alpha1
kind: GitHubIdentityProvider
metadata: {name: github, namespace: selkie-supervisor}
`

func TestGitHubIdentityProviderOrganizations(t *testing.T) {
	t.Parallel()
	orgs := make([]string, 65)
	for i := range orgs {
		orgs[i] = fmt.Sprintf("org%d", i)
	}
	runCases(t, githubFile, githubHeader, []validationCase{
		{name: "default policy with orgs", spec: `
allowAuthentication: {organizations: {allowed: [selkie-dev]}}
client: {secretName: github-client}
`},
		{name: "explicit policy with orgs", spec: `
allowAuthentication: {organizations: {policy: OnlyUsersFromAllowedOrganizations, allowed: [a, b]}}
client: {secretName: github-client}
`},
		{name: "default policy without orgs", spec: `
allowAuthentication: {organizations: {}}
client: {secretName: github-client}
`, want: []string{"spec.allowAuthentication.organizations: allowed must list at least one organization when policy is OnlyUsersFromAllowedOrganizations"}},
		{name: "default policy with empty orgs", spec: `
allowAuthentication: {organizations: {allowed: []}}
client: {secretName: github-client}
`, want: []string{"spec.allowAuthentication.organizations: allowed must list at least one organization when policy is OnlyUsersFromAllowedOrganizations"}},
		{name: "all users", spec: `
allowAuthentication: {organizations: {policy: AllGitHubUsers}}
client: {secretName: github-client}
`},
		{name: "all users with orgs", spec: `
allowAuthentication: {organizations: {policy: AllGitHubUsers, allowed: [selkie-dev]}}
client: {secretName: github-client}
`, want: []string{"spec.allowAuthentication.organizations: allowed must be empty when policy is AllGitHubUsers"}},
		{name: "unknown policy", spec: `
allowAuthentication: {organizations: {policy: Everyone, allowed: [a]}}
client: {secretName: github-client}
`, want: []string{`spec.allowAuthentication.organizations.policy: supported values: "OnlyUsersFromAllowedOrganizations", "AllGitHubUsers"`}},
		{name: "too many orgs", spec: `
allowAuthentication: {organizations: {allowed: [` + strings.Join(orgs, ", ") + `]}}
client: {secretName: github-client}
`, want: []string{`spec.allowAuthentication.organizations.allowed: must have at most 64 items`}},
		{name: "duplicate orgs", spec: `
allowAuthentication: {organizations: {allowed: [a, a]}}
client: {secretName: github-client}
`, want: []string{`spec.allowAuthentication.organizations.allowed[1]: Duplicate value`}},
		{name: "claims", spec: `
claims: {username: email, groups: id}
allowAuthentication: {organizations: {allowed: [a]}}
client: {secretName: ""}
`, want: []string{
			`spec.claims.groups: supported values: "name", "slug"`,
			`spec.claims.username: supported values: "id", "login", "login:id"`,
			`spec.client.secretName: should be at least 1 chars long`,
		}},
		{name: "missing required", spec: `githubAPI: {host: github.example.com}`, want: []string{
			`spec.allowAuthentication: Required value`,
			`spec.client: Required value`,
		}},
	})
}

const oidcIDPHeader = `
apiVersion: idp.supervisor.selkie.dev/v1alpha1
kind: OIDCIdentityProvider
metadata: {name: okta, namespace: selkie-supervisor}
`

func TestOIDCIdentityProvider(t *testing.T) {
	t.Parallel()
	forbidden := "name must not be one of response_type, scope, client_id, state, nonce, code_challenge, code_challenge_method, redirect_uri, hd"
	runCases(t, "idp.supervisor.selkie.dev_oidcidentityproviders.yaml", oidcIDPHeader, []validationCase{
		{name: "full", spec: `
issuer: https://okta.example.com
tls: {certificateAuthorityDataSource: {kind: ConfigMap, name: okta-ca, key: ca.crt}}
authorizationConfig:
  additionalScopes: [offline_access, email]
  additionalAuthorizeParameters: [{name: prompt, value: consent}, {name: acr_values}]
  allowPasswordGrant: true
claims: {username: email, groups: groups, additionalClaimMappings: {dept: department}}
client: {secretName: okta-client}
`},
		{name: "http issuer", spec: `
issuer: http://okta.example.com
client: {secretName: okta-client}
`, want: []string{`spec.issuer: should match '^https://'`}},
		{name: "forbidden parameters", spec: `
issuer: https://okta.example.com
authorizationConfig:
  additionalAuthorizeParameters: [{name: scope, value: x}, {name: prompt}, {name: redirect_uri}, {name: hd}]
client: {secretName: okta-client}
`, want: []string{
			"spec.authorizationConfig.additionalAuthorizeParameters[0]: " + forbidden,
			"spec.authorizationConfig.additionalAuthorizeParameters[2]: " + forbidden,
			"spec.authorizationConfig.additionalAuthorizeParameters[3]: " + forbidden,
		}},
		{name: "bad CA source", spec: `
issuer: https://okta.example.com
tls: {certificateAuthorityDataSource: {kind: Pod, name: "", key: ""}}
client: {secretName: okta-client}
`, want: []string{
			`spec.tls.certificateAuthorityDataSource.key: should be at least 1 chars long`,
			`spec.tls.certificateAuthorityDataSource.kind: supported values: "Secret", "ConfigMap"`,
			`spec.tls.certificateAuthorityDataSource.name: should be at least 1 chars long`,
		}},
		{name: "missing client", spec: `issuer: https://okta.example.com`,
			want: []string{`spec.client: Required value`}},
	})
}

func TestLDAPIdentityProviders(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"LDAPIdentityProvider", "ActiveDirectoryIdentityProvider"} {
		header := "apiVersion: idp.supervisor.selkie.dev/v1alpha1\nkind: " + kind + "\nmetadata: {name: corp, namespace: selkie-supervisor}\n"
		file := "idp.supervisor.selkie.dev_" + strings.ToLower(kind) + "s.yaml"
		cases := []validationCase{
			{name: "full", spec: `
host: ldap.example.com:636
tls: {certificateAuthorityData: LS0t}
bind: {secretName: bind}
userSearch: {base: "ou=users,dc=example,dc=com", filter: "uid={}", attributes: {username: uid, uid: dn}}
groupSearch: {base: "ou=groups,dc=example,dc=com", filter: "member={}", userAttributeForFilter: dn, attributes: {groupName: cn}, skipGroupRefresh: true}
`},
			{name: "host only", spec: `host: ldap.example.com`},
			{name: "missing host", spec: `bind: {secretName: bind}`, want: []string{`spec.host: Required value`}},
			{name: "empty bind secret", spec: `
host: ldap.example.com
bind: {secretName: ""}
`, want: []string{`spec.bind.secretName: should be at least 1 chars long`}},
		}
		if kind == "LDAPIdentityProvider" {
			cases = append(cases, validationCase{name: "empty search values", spec: `
host: ldap.example.com
userSearch: {base: "", attributes: {username: "", uid: ""}}
`, want: []string{
				`spec.userSearch.attributes.uid: should be at least 1 chars long`,
				`spec.userSearch.attributes.username: should be at least 1 chars long`,
				`spec.userSearch.base: should be at least 1 chars long`,
			}}, validationCase{name: "dn username without filter", spec: `
host: ldap.example.com
userSearch: {base: "dc=example,dc=com", attributes: {username: dn, uid: dn}}
`, want: []string{`spec.userSearch: filter is required when attributes.username is dn`}},
				validationCase{name: "dn username with filter", spec: `
host: ldap.example.com
userSearch: {base: "dc=example,dc=com", filter: "(&(objectClass=person)(uid={}))", attributes: {username: dn, uid: dn}}
`})
		}
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			runCases(t, file, header, cases)
		})
	}
}

// TestForbiddenAuthorizeParametersMatchGo checks that the CEL rule rejects
// exactly the names of idpv1alpha1.ForbiddenAuthorizeParameterNames.
func TestForbiddenAuthorizeParametersMatchGo(t *testing.T) {
	t.Parallel()
	var cases []validationCase
	for _, name := range append(idpv1alpha1.ForbiddenAuthorizeParameterNames(), "prompt", "login_hint") {
		tc := validationCase{name: name, spec: `
issuer: https://okta.example.com
authorizationConfig: {additionalAuthorizeParameters: [{name: ` + name + `, value: x}]}
client: {secretName: okta-client}
`}
		if slices.Contains(idpv1alpha1.ForbiddenAuthorizeParameterNames(), name) {
			tc.want = []string{"spec.authorizationConfig.additionalAuthorizeParameters[0]: name must not be one of response_type, scope, client_id, state, nonce, code_challenge, code_challenge_method, redirect_uri, hd"}
		}
		cases = append(cases, tc)
	}
	runCases(t, "idp.supervisor.selkie.dev_oidcidentityproviders.yaml", oidcIDPHeader, cases)
}
