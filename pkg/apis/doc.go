// SPDX-License-Identifier: Apache-2.0

// Package apis is the root of Selkie's hand-written API types, one package per
// API group and version:
//
//	concierge/authentication/v1alpha1  JWTAuthenticator, WebhookAuthenticator (CRDs)
//	concierge/config/v1alpha1          CredentialIssuer (CRD)
//	concierge/login[/v1alpha1]         TokenCredentialRequest (aggregated API)
//	concierge/identity[/v1alpha1]      WhoAmIRequest (aggregated API)
//	supervisor/config/v1alpha1         FederationDomain, OIDCClient (CRDs)
//	supervisor/idp/v1alpha1            OIDC, LDAP, ActiveDirectory and GitHub identity providers (CRDs)
//	supervisor/clientsecret[/v1alpha1] OIDCClientSecretRequest (aggregated API)
//	supervisor/session[/v1alpha1]      SupervisorSession (aggregated API, Selkie-only)
//
// Generated code lives beside the types (zz_generated.*.go) and under
// generated/ (clients, OpenAPI definitions, CRD YAML); regenerate it with
// `make generate`. This package itself only holds the cross-group tests.
package apis
