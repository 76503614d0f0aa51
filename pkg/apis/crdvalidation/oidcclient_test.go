// SPDX-License-Identifier: Apache-2.0

package crdvalidation_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const oidcClientFile = "config.supervisor.selkie.dev_oidcclients.yaml"

const oidcClientHeader = `
apiVersion: config.supervisor.selkie.dev/v1alpha1
kind: OIDCClient
metadata: {name: client.oauth.pinniped.dev-webapp, namespace: selkie-supervisor}
`

const oidcClientValidSpec = `
allowedRedirectURIs: [https://webapp.example.com/callback]
allowedGrantTypes: [authorization_code, refresh_token, "urn:ietf:params:oauth:grant-type:token-exchange"]
allowedScopes: [openid, offline_access, username, groups, "pinniped:request-audience"]
`

func TestOIDCClientName(t *testing.T) {
	t.Parallel()
	v := load(t, oidcClientFile)
	tests := []struct {
		name string
		want []string
	}{
		{name: "client.oauth.pinniped.dev-webapp"},
		{name: "client.oauth.pinniped.dev-a"},
		{name: "webapp", want: []string{"<nil>: metadata.name must start with client.oauth.pinniped.dev-"}},
		{name: "client.oauth.selkie.dev-webapp", want: []string{"<nil>: metadata.name must start with client.oauth.pinniped.dev-"}},
		{name: "xclient.oauth.pinniped.dev-webapp", want: []string{"<nil>: metadata.name must start with client.oauth.pinniped.dev-"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			obj := object(t, oidcClientHeader, oidcClientValidSpec)
			obj["metadata"].(map[string]any)["name"] = tc.name
			got := errorStrings(v.Validate(context.Background(), obj))
			if diff := cmp.Diff(tc.want, got, cmpEmpty); diff != "" {
				t.Errorf("validation errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOIDCClientSpec(t *testing.T) {
	t.Parallel()
	runCases(t, oidcClientFile, oidcClientHeader, []validationCase{
		{name: "all values", spec: oidcClientValidSpec},
		{name: "loopback redirects", spec: `
allowedRedirectURIs: ["http://127.0.0.1/callback", "http://127.0.0.1:12345/callback", "http://[::1]:8080/", "https://a"]
allowedGrantTypes: [authorization_code]
allowedScopes: [openid]
`},
		{name: "bad redirects", spec: `
allowedRedirectURIs: ["http://example.com/callback", "http://localhost/callback", "https://", "ftp://x"]
allowedGrantTypes: [authorization_code]
allowedScopes: [openid]
`, want: []string{
			`spec.allowedRedirectURIs[0]: should match '^https://.+|^http://(127\.0\.0\.1|\[::1\])(:\d+)?/'`,
			`spec.allowedRedirectURIs[1]: should match '^https://.+|^http://(127\.0\.0\.1|\[::1\])(:\d+)?/'`,
			`spec.allowedRedirectURIs[2]: should match '^https://.+|^http://(127\.0\.0\.1|\[::1\])(:\d+)?/'`,
			`spec.allowedRedirectURIs[3]: should match '^https://.+|^http://(127\.0\.0\.1|\[::1\])(:\d+)?/'`,
		}},
		{name: "unknown grant type and scope", spec: `
allowedRedirectURIs: [https://webapp.example.com/callback]
allowedGrantTypes: [authorization_code, password]
allowedScopes: [openid, email]
`, want: []string{
			`spec.allowedGrantTypes[1]: supported values: "authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:token-exchange"`,
			`spec.allowedScopes[1]: supported values: "openid", "offline_access", "username", "groups", "pinniped:request-audience"`,
		}},
		{name: "empty lists", spec: `
allowedRedirectURIs: []
allowedGrantTypes: []
allowedScopes: []
`, want: []string{
			`spec.allowedGrantTypes: should have at least 1 items`,
			`spec.allowedRedirectURIs: should have at least 1 items`,
			`spec.allowedScopes: should have at least 1 items`,
		}},
		{name: "duplicates", spec: `
allowedRedirectURIs: [https://a/cb, https://a/cb]
allowedGrantTypes: [authorization_code, authorization_code]
allowedScopes: [openid]
`, want: []string{
			`spec.allowedGrantTypes[1]: Duplicate value`,
			`spec.allowedRedirectURIs[1]: Duplicate value`,
		}},
		{name: "id token lifetime minimum", spec: oidcClientValidSpec + `tokenLifetimes: {idTokenSeconds: 120}`},
		{name: "id token lifetime maximum", spec: oidcClientValidSpec + `tokenLifetimes: {idTokenSeconds: 1800}`},
		{name: "id token lifetime too short", spec: oidcClientValidSpec + `tokenLifetimes: {idTokenSeconds: 119}`,
			want: []string{`spec.tokenLifetimes.idTokenSeconds: should be greater than or equal to 120`}},
		{name: "id token lifetime too long", spec: oidcClientValidSpec + `tokenLifetimes: {idTokenSeconds: 1801}`,
			want: []string{`spec.tokenLifetimes.idTokenSeconds: should be less than or equal to 1800`}},
		{name: "missing lists", spec: `tokenLifetimes: {}`, want: []string{
			`spec.allowedGrantTypes: Required value`,
			`spec.allowedRedirectURIs: Required value`,
			`spec.allowedScopes: Required value`,
		}},
	})
}
