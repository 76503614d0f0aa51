// SPDX-License-Identifier: Apache-2.0

package crdvalidation_test

import "testing"

const federationDomainHeader = `
apiVersion: config.supervisor.selkie.dev/v1alpha1
kind: FederationDomain
metadata: {name: fd1, namespace: selkie-supervisor}
`

func TestFederationDomainIssuer(t *testing.T) {
	t.Parallel()
	runCases(t, "config.supervisor.selkie.dev_federationdomains.yaml", federationDomainHeader, []validationCase{
		{name: "https with path", spec: `issuer: https://id.example.com/fd1`},
		{name: "https with port", spec: `issuer: https://id.example.com:8443`},
		{name: "https on IP", spec: `issuer: https://127.0.0.1:8443/fd`},
		{name: "http", spec: `issuer: http://id.example.com/fd1`,
			want: []string{"spec.issuer: issuer must be an HTTPS URL"}},
		{name: "not a URL", spec: `issuer: id.example.com`,
			want: []string{"spec.issuer: issuer must be an HTTPS URL"}},
		{name: "no host", spec: `issuer: https:///fd1`,
			want: []string{"spec.issuer: issuer must have a host"}},
		{name: "trailing slash", spec: `issuer: https://id.example.com/fd1/`,
			want: []string{"spec.issuer: issuer must not end with a slash"}},
		{name: "trailing slash without path", spec: `issuer: https://id.example.com/`,
			want: []string{"spec.issuer: issuer must not end with a slash"}},
		{name: "query", spec: `issuer: https://id.example.com/fd1?tenant=a`,
			want: []string{"spec.issuer: issuer must not contain a query"}},
		{name: "empty query", spec: `issuer: https://id.example.com/fd1?`,
			want: []string{"spec.issuer: issuer must not contain a query"}},
		{name: "fragment", spec: `issuer: https://id.example.com/fd1#top`,
			want: []string{"spec.issuer: issuer must not contain a fragment"}},
		{name: "userinfo", spec: `issuer: https://admin:secret@id.example.com/fd1`,
			want: []string{"spec.issuer: issuer must not contain a username or password"}},
		{name: "missing", spec: `tls: {secretName: cert}`,
			want: []string{"spec.issuer: Required value"}},
	})
}

func TestFederationDomainIdentityProviders(t *testing.T) {
	t.Parallel()
	runCases(t, "config.supervisor.selkie.dev_federationdomains.yaml", federationDomainHeader, []validationCase{
		{name: "contract example", spec: `
issuer: https://id.example.com/fd1
identityProviders:
- displayName: corp-ldap
  objectRef: {apiGroup: idp.supervisor.selkie.dev, kind: LDAPIdentityProvider, name: corp}
  sessionLifetimeSeconds: 3600
  transforms:
    constants:
    - {name: prefix, type: string, stringValue: "ldap:"}
    - {name: admins, type: stringList, stringListValue: [ops, sre]}
    expressions:
    - {type: policy/v1, expression: 'groups.exists(g, g in strListConst.admins)', message: only ops and sre}
    - {type: username/v1, expression: 'strConst.prefix + username'}
    - {type: groups/v1, expression: 'groups.map(g, strConst.prefix + g)'}
    examples:
    - {username: user1, groups: [sre, ops], expects: {username: "ldap:user1", groups: ["ldap:ops", "ldap:sre"]}}
    - {username: user2, groups: [dev], expects: {rejected: true, message: only ops and sre}}
`},
		{name: "empty display name", spec: `
issuer: https://id.example.com/fd1
identityProviders:
- displayName: ""
  objectRef: {apiGroup: idp.supervisor.selkie.dev, kind: LDAPIdentityProvider, name: corp}
`, want: []string{`spec.identityProviders[0].displayName: should be at least 1 chars long`}},
		{name: "constant names", spec: `
issuer: https://id.example.com/fd1
identityProviders:
- displayName: corp
  objectRef: {apiGroup: idp.supervisor.selkie.dev, kind: LDAPIdentityProvider, name: corp}
  transforms:
    constants:
    - {name: 1st, type: string}
    - {name: a_b, type: list}
    - {name: a23456789012345678901234567890123456789012345678901234567890123456, type: string}
`, want: []string{
			`spec.identityProviders[0].transforms.constants[0].name: should match '^[a-zA-Z][_a-zA-Z0-9]*$'`,
			`spec.identityProviders[0].transforms.constants[1].type: supported values: "string", "stringList"`,
			`spec.identityProviders[0].transforms.constants[2].name: may not be more than 64 bytes`,
		}},
		{name: "duplicate constant", spec: `
issuer: https://id.example.com/fd1
identityProviders:
- displayName: corp
  objectRef: {apiGroup: idp.supervisor.selkie.dev, kind: LDAPIdentityProvider, name: corp}
  transforms:
    constants:
    - {name: a, type: string}
    - {name: a, type: stringList}
`, want: []string{`spec.identityProviders[0].transforms.constants[1]: Duplicate value`}},
		{name: "expressions and examples", spec: `
issuer: https://id.example.com/fd1
identityProviders:
- displayName: corp
  objectRef: {apiGroup: idp.supervisor.selkie.dev, kind: LDAPIdentityProvider, name: corp}
  transforms:
    expressions:
    - {type: email/v1, expression: 'true'}
    - {type: policy/v1, expression: ''}
    examples:
    - {username: "", expects: {}}
`, want: []string{
			`spec.identityProviders[0].transforms.examples[0].username: should be at least 1 chars long`,
			`spec.identityProviders[0].transforms.expressions[0].type: supported values: "policy/v1", "username/v1", "groups/v1"`,
			`spec.identityProviders[0].transforms.expressions[1].expression: should be at least 1 chars long`,
		}},
		{name: "session lifetime bounds", spec: `
issuer: https://id.example.com/fd1
identityProviders:
- displayName: short
  objectRef: {apiGroup: idp.supervisor.selkie.dev, kind: LDAPIdentityProvider, name: corp}
  sessionLifetimeSeconds: 3599
- displayName: long
  objectRef: {apiGroup: idp.supervisor.selkie.dev, kind: OIDCIdentityProvider, name: okta}
  sessionLifetimeSeconds: 604801
`, want: []string{
			`spec.identityProviders[0].sessionLifetimeSeconds: should be greater than or equal to 3600`,
			`spec.identityProviders[1].sessionLifetimeSeconds: should be less than or equal to 604800`,
		}},
	})
}
