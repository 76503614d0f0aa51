// SPDX-License-Identifier: Apache-2.0

package v1alpha1

// Condition types shared by both authenticator kinds.
const (
	// ConditionReady is True only when every other condition of the authenticator is True.
	ConditionReady = "Ready"
	// ConditionAuthenticatorValid reports whether a live authenticator could be built.
	ConditionAuthenticatorValid = "AuthenticatorValid"
	// ConditionTLSConfigurationValid reports whether spec.tls could be loaded.
	ConditionTLSConfigurationValid = "TLSConfigurationValid"
)

// JWTAuthenticator condition types.
const (
	// ConditionIssuerURLValid reports whether spec.issuer is a usable issuer URL.
	ConditionIssuerURLValid = "IssuerURLValid"
	// ConditionDiscoveryURLValid reports whether OIDC discovery succeeded.
	ConditionDiscoveryURLValid = "DiscoveryURLValid"
	// ConditionJWKSURLValid reports whether the discovered jwks_uri is usable.
	ConditionJWKSURLValid = "JWKSURLValid"
	// ConditionJWKSFetchValid reports whether the JWKS could be fetched.
	ConditionJWKSFetchValid = "JWKSFetchValid"
)

// WebhookAuthenticator condition types.
const (
	// ConditionEndpointURLValid reports whether spec.endpoint is a usable URL.
	ConditionEndpointURLValid = "EndpointURLValid"
	// ConditionWebhookConnectionValid reports whether the webhook could be dialed.
	ConditionWebhookConnectionValid = "WebhookConnectionValid"
)

// Reasons shared by every kind.
const (
	// ReasonSuccess marks a True condition.
	ReasonSuccess = "Success"
	// ReasonNotReady marks a False Ready condition.
	ReasonNotReady = "NotReady"
	// ReasonUnableToValidate marks a condition that could not be checked because another failed.
	ReasonUnableToValidate = "UnableToValidate"
	// ReasonInvalidTLSConfig marks a False TLSConfigurationValid condition.
	ReasonInvalidTLSConfig = "InvalidTLSConfig"
)

// MessageUnableToValidate is the message of every condition with ReasonUnableToValidate.
const MessageUnableToValidate = "unable to validate; see other conditions for details"

// JWTAuthenticator reasons.
const (
	// ReasonInvalidIssuerURL marks an unparsable spec.issuer.
	ReasonInvalidIssuerURL = "InvalidIssuerURL"
	// ReasonInvalidIssuerURLScheme marks a spec.issuer that is not https.
	ReasonInvalidIssuerURLScheme = "InvalidIssuerURLScheme"
	// ReasonInvalidIssuerURLContainsFragment marks a spec.issuer with a fragment.
	ReasonInvalidIssuerURLContainsFragment = "InvalidIssuerURLContainsFragment"
	// ReasonInvalidIssuerURLContainsQueryParams marks a spec.issuer with a query.
	ReasonInvalidIssuerURLContainsQueryParams = "InvalidIssuerURLContainsQueryParams"
	// ReasonInvalidIssuerURLContainsWellKnownEndpoint marks a spec.issuer ending in the discovery path.
	ReasonInvalidIssuerURLContainsWellKnownEndpoint = "InvalidIssuerURLContainsWellKnownEndpoint"
	// ReasonInvalidDiscoveryProbe marks a failed OIDC discovery.
	ReasonInvalidDiscoveryProbe = "InvalidDiscoveryProbe"
	// ReasonInvalidProviderJWKSURL marks an unusable jwks_uri.
	ReasonInvalidProviderJWKSURL = "InvalidProviderJWKSURL"
	// ReasonInvalidProviderJWKSURLScheme marks a jwks_uri that is not https.
	ReasonInvalidProviderJWKSURLScheme = "InvalidProviderJWKSURLScheme"
	// ReasonInvalidCouldNotFetchJWKS marks a JWKS that could not be fetched.
	ReasonInvalidCouldNotFetchJWKS = "InvalidCouldNotFetchJWKS"
	// ReasonInvalidAuthenticator marks an authenticator that could not be built.
	ReasonInvalidAuthenticator = "InvalidAuthenticator"
)

// WebhookAuthenticator reasons.
const (
	// ReasonInvalidEndpointURL marks an unparsable spec.endpoint.
	ReasonInvalidEndpointURL = "InvalidEndpointURL"
	// ReasonInvalidEndpointURLScheme marks a spec.endpoint that is not https.
	ReasonInvalidEndpointURLScheme = "InvalidEndpointURLScheme"
	// ReasonInvalidEndpointCannotDetermineProxy marks an endpoint whose proxy could not be determined.
	ReasonInvalidEndpointCannotDetermineProxy = "InvalidEndpointCannotDetermineProxy"
	// ReasonUnableToDialServer marks a webhook that could not be dialed.
	ReasonUnableToDialServer = "UnableToDialServer"
	// ReasonUnableToCreateClient marks a webhook client that could not be built.
	ReasonUnableToCreateClient = "UnableToCreateClient"
	// ReasonUnableToInstantiateWebhook marks a webhook authenticator that could not be built.
	ReasonUnableToInstantiateWebhook = "UnableToInstantiateWebhook"
)

// JWTAuthenticator condition and reason of its claim rules and mappings.
const (
	// ConditionClaimRulesValid reports whether spec.claimValidationRules, spec.claims and
	// spec.userValidationRules are valid: each CEL expression compiles, returns the
	// right type and stays within the cost limit.
	ConditionClaimRulesValid = "ClaimRulesValid"
	// ReasonInvalidClaimRules marks a False ClaimRulesValid condition.
	ReasonInvalidClaimRules = "InvalidClaimRules"
)
