// SPDX-License-Identifier: Apache-2.0

package crdvalidation_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

// TestDefaults checks the defaults the API server applies from the CRD schemas.
func TestDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		file   string
		header string
		spec   string
		status string
		want   string // the defaulted spec, or status when status is set
	}{
		{
			name: "GitHub identity provider", file: githubFile, header: githubHeader,
			spec: `
allowAuthentication: {organizations: {allowed: [selkie-dev]}}
client: {secretName: github-client}
`,
			want: `
githubAPI: {host: github.com}
claims: {username: "login:id", groups: slug}
allowAuthentication: {organizations: {policy: OnlyUsersFromAllowedOrganizations, allowed: [selkie-dev]}}
client: {secretName: github-client}
`,
		},
		{
			name: "GitHub Enterprise keeps its host", file: githubFile, header: githubHeader,
			spec: `
githubAPI: {host: github.example.com}
claims: {username: id}
allowAuthentication: {organizations: {policy: AllGitHubUsers}}
client: {secretName: github-client}
`,
			want: `
githubAPI: {host: github.example.com}
claims: {username: id, groups: slug}
allowAuthentication: {organizations: {policy: AllGitHubUsers}}
client: {secretName: github-client}
`,
		},
		{
			name: "CredentialIssuer service", file: "config.concierge.selkie.dev_credentialissuers.yaml", header: credentialIssuerHeader,
			spec: `impersonationProxy: {mode: auto}`,
			want: `impersonationProxy: {mode: auto, service: {type: LoadBalancer}}`,
		},
		{
			name: "CredentialIssuer service type", file: "config.concierge.selkie.dev_credentialissuers.yaml", header: credentialIssuerHeader,
			spec: `impersonationProxy: {mode: auto, service: {loadBalancerIP: 10.0.0.7}}`,
			want: `impersonationProxy: {mode: auto, service: {type: LoadBalancer, loadBalancerIP: 10.0.0.7}}`,
		},
		{
			name: "JWTAuthenticator claims", file: "authentication.concierge.selkie.dev_jwtauthenticators.yaml", header: jwtAuthenticatorHeader,
			spec: `{issuer: "https://id.example.com", audience: a}`,
			want: `{issuer: "https://id.example.com", audience: a, claims: {username: username, groups: groups}}`,
		},
		{
			name: "JWTAuthenticator explicit claims", file: "authentication.concierge.selkie.dev_jwtauthenticators.yaml", header: jwtAuthenticatorHeader,
			spec: `{issuer: "https://id.example.com", audience: a, claims: {username: email}}`,
			want: `{issuer: "https://id.example.com", audience: a, claims: {username: email, groups: groups}}`,
		},
		{
			name: "FederationDomain phase", file: "config.supervisor.selkie.dev_federationdomains.yaml", header: federationDomainHeader,
			spec: `issuer: https://id.example.com`, status: `{}`,
			want: `{phase: Pending}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := load(t, tc.file)
			obj := object(t, tc.header, tc.spec)
			part := "spec"
			if tc.status != "" {
				part = "status"
				obj["status"] = unmarshal(t, tc.status)
			}
			v.Default(obj)
			if diff := cmp.Diff(unmarshal(t, tc.want), obj[part]); diff != "" {
				t.Errorf("defaulted %s (-want +got):\n%s", part, diff)
			}
		})
	}
}

func unmarshal(t *testing.T, s string) map[string]any {
	t.Helper()
	out := map[string]any{}
	if err := yaml.Unmarshal([]byte(s), &out); err != nil {
		t.Fatal(err)
	}
	return out
}
