// SPDX-License-Identifier: Apache-2.0

package crdvalidation_test

import "testing"

const credentialIssuerHeader = `
apiVersion: config.concierge.selkie.dev/v1alpha1
kind: CredentialIssuer
metadata: {name: selkie-concierge-config}
`

func TestCredentialIssuer(t *testing.T) {
	t.Parallel()
	runCases(t, "config.concierge.selkie.dev_credentialissuers.yaml", credentialIssuerHeader, []validationCase{
		{name: "auto with defaults", spec: `impersonationProxy: {mode: auto}`},
		{name: "full", spec: `
impersonationProxy:
  mode: enabled
  service:
    type: LoadBalancer
    loadBalancerIP: 10.0.0.7
    annotations: {service.beta.kubernetes.io/aws-load-balancer-connection-idle-timeout: "4000"}
  externalEndpoint: proxy.example.com:8444
  tls: {secretName: proxy-tls, certificateAuthorityData: LS0t}
`},
		{name: "IPv6 load balancer IP", spec: `
impersonationProxy: {mode: enabled, service: {type: LoadBalancer, loadBalancerIP: "fd00::7"}}
`},
		{name: "invalid load balancer IP", spec: `
impersonationProxy: {mode: enabled, service: {loadBalancerIP: proxy.example.com}}
`, want: []string{"spec.impersonationProxy.service.loadBalancerIP: loadBalancerIP must be a valid IP address"}},
		{name: "empty load balancer IP", spec: `
impersonationProxy: {mode: enabled, service: {loadBalancerIP: ""}}
`, want: []string{
			"spec.impersonationProxy.service.loadBalancerIP: loadBalancerIP must be a valid IP address",
			"spec.impersonationProxy.service.loadBalancerIP: should be at least 1 chars long",
		}},
		{name: "service None with endpoint", spec: `
impersonationProxy: {mode: enabled, service: {type: None}, externalEndpoint: proxy.example.com}
`},
		{name: "service None without endpoint", spec: `
impersonationProxy: {mode: enabled, service: {type: None}}
`, want: []string{"spec.impersonationProxy: externalEndpoint must be set when service.type is None"}},
		{name: "bad enums", spec: `
impersonationProxy: {mode: always, service: {type: NodePort}}
`, want: []string{
			`spec.impersonationProxy.mode: supported values: "auto", "enabled", "disabled"`,
			`spec.impersonationProxy.service.type: supported values: "LoadBalancer", "ClusterIP", "None"`,
		}},
		{name: "missing mode", spec: `impersonationProxy: {}`,
			want: []string{"spec.impersonationProxy.mode: Required value"}},
		{name: "missing impersonation proxy", spec: `{}`,
			want: []string{"spec.impersonationProxy: Required value"}},
	})
}

const jwtAuthenticatorHeader = `
apiVersion: authentication.concierge.selkie.dev/v1alpha1
kind: JWTAuthenticator
metadata: {name: supervisor}
`

func TestJWTAuthenticator(t *testing.T) {
	t.Parallel()
	runCases(t, "authentication.concierge.selkie.dev_jwtauthenticators.yaml", jwtAuthenticatorHeader, []validationCase{
		{name: "valid", spec: `
issuer: https://id.example.com/fd1
audience: cluster-a-7f3c
claims: {username: email, groups: roles}
tls: {certificateAuthorityDataSource: {kind: Secret, name: supervisor-ca, key: ca.crt}}
`},
		{name: "http issuer and empty audience", spec: `
issuer: http://id.example.com
audience: ""
`, want: []string{
			`spec.audience: should be at least 1 chars long`,
			`spec.issuer: should match '^https://'`,
		}},
		{name: "missing", spec: `claims: {}`, want: []string{
			`spec.audience: Required value`,
			`spec.issuer: Required value`,
		}},
	})
}

func TestWebhookAuthenticator(t *testing.T) {
	t.Parallel()
	header := "apiVersion: authentication.concierge.selkie.dev/v1alpha1\nkind: WebhookAuthenticator\nmetadata: {name: hook}\n"
	runCases(t, "authentication.concierge.selkie.dev_webhookauthenticators.yaml", header, []validationCase{
		{name: "valid", spec: `endpoint: https://hook.example.com/authenticate`},
		{name: "http", spec: `endpoint: http://hook.example.com/authenticate`,
			want: []string{`spec.endpoint: should match '^https://'`}},
	})
}
