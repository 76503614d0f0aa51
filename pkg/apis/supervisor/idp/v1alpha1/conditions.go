// SPDX-License-Identifier: Apache-2.0

package v1alpha1

// Condition types and reasons shared by several kinds.
const (
	// ConditionReady is True only when every other condition is True.
	ConditionReady = "Ready"
	// ConditionTLSConfigurationValid reports whether spec.tls could be loaded.
	ConditionTLSConfigurationValid = "TLSConfigurationValid"
	// ConditionClientCredentialsSecretValid reports whether spec.client.secretName is usable.
	ConditionClientCredentialsSecretValid = "ClientCredentialsSecretValid"
	// ReasonSuccess marks a True condition.
	ReasonSuccess = "Success"
	// ReasonNotReady marks a False Ready condition.
	ReasonNotReady = "NotReady"
	// ReasonUnableToValidate marks a condition that could not be checked because another failed.
	ReasonUnableToValidate = "UnableToValidate"
	// MessageUnableToValidate is the message of every condition with ReasonUnableToValidate.
	MessageUnableToValidate = "unable to validate; see other conditions for details"
	// ReasonInvalidTLSConfig marks a False TLSConfigurationValid condition.
	ReasonInvalidTLSConfig = "InvalidTLSConfig"
	// ReasonSecretNotFound marks a missing Secret.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonSecretWrongType marks a Secret of the wrong type.
	ReasonSecretWrongType = "SecretWrongType"
	// ReasonSecretMissingKeys marks a Secret without the required keys.
	ReasonSecretMissingKeys = "SecretMissingKeys"
)

// OIDCIdentityProvider condition types and reasons.
const (
	// ConditionOIDCDiscoverySucceeded reports whether upstream discovery succeeded.
	ConditionOIDCDiscoverySucceeded = "OIDCDiscoverySucceeded"
	// ConditionAdditionalAuthorizeParametersValid reports whether every additional
	// authorize parameter name is allowed.
	ConditionAdditionalAuthorizeParametersValid = "AdditionalAuthorizeParametersValid"
	// ReasonUnreachable marks an upstream that could not be reached.
	ReasonUnreachable = "Unreachable"
	// ReasonInvalidResponse marks an unusable discovery response.
	ReasonInvalidResponse = "InvalidResponse"
	// ReasonDisallowedParameterName marks a forbidden additional authorize parameter.
	ReasonDisallowedParameterName = "DisallowedParameterName"
)

// LDAPIdentityProvider and ActiveDirectoryIdentityProvider condition types and reasons.
const (
	// ConditionBindSecretValid reports whether spec.bind.secretName is usable.
	ConditionBindSecretValid = "BindSecretValid"
	// ConditionLDAPConnectionValid reports whether a bind with the configured credentials succeeded.
	ConditionLDAPConnectionValid = "LDAPConnectionValid"
	// ConditionSearchBaseFound reports (Active Directory only) whether the search bases are known.
	ConditionSearchBaseFound = "SearchBaseFound"
	// ReasonLDAPConnectionError marks a failed connection or bind.
	ReasonLDAPConnectionError = "LDAPConnectionError"
	// ReasonInvalidSearchConfiguration marks (on LDAPConnectionValid, a Selkie
	// addition) user or group searches that cannot work: a missing required field or a
	// filter that does not parse. No connection is attempted.
	ReasonInvalidSearchConfiguration = "InvalidSearchConfiguration"
	// ReasonUsingConfigurationFromSpec marks search bases taken from the spec.
	ReasonUsingConfigurationFromSpec = "UsingConfigurationFromSpec"
	// ReasonErrorFetchingSearchBase marks a root DSE that could not be read.
	ReasonErrorFetchingSearchBase = "ErrorFetchingSearchBase"
)

// GitHubIdentityProvider condition types.
const (
	// ConditionHostValid reports whether spec.githubAPI.host is usable.
	ConditionHostValid = "HostValid"
	// ConditionOrganizationsPolicyValid reports whether the organizations policy is consistent.
	ConditionOrganizationsPolicyValid = "OrganizationsPolicyValid"
	// ConditionGitHubConnectionValid reports whether the GitHub API could be reached.
	ConditionGitHubConnectionValid = "GitHubConnectionValid"
	// ConditionClaimsValid reports whether spec.claims is usable.
	ConditionClaimsValid = "ClaimsValid"
	// ReasonInvalidHost marks a False HostValid condition.
	ReasonInvalidHost = "InvalidHost"
	// ReasonInvalid marks a False OrganizationsPolicyValid or ClaimsValid condition.
	ReasonInvalid = "Invalid"
	// ReasonUnableToDialServer marks a False GitHubConnectionValid condition.
	ReasonUnableToDialServer = "UnableToDialServer"
)

// Client Secret types and keys. The Selkie types are preferred; the reference
// (pinniped.dev) types are accepted too.
const (
	// SecretTypeOIDCClient is the type of an OIDCIdentityProvider client Secret.
	SecretTypeOIDCClient = "secrets.selkie.dev/oidc-client"
	// SecretTypeOIDCClientPinniped is the accepted reference alias of SecretTypeOIDCClient.
	SecretTypeOIDCClientPinniped = "secrets.pinniped.dev/oidc-client"
	// SecretTypeGitHubClient is the type of a GitHubIdentityProvider client Secret.
	SecretTypeGitHubClient = "secrets.selkie.dev/github-client"
	// SecretTypeGitHubClientPinniped is the accepted reference alias of SecretTypeGitHubClient.
	SecretTypeGitHubClientPinniped = "secrets.pinniped.dev/github-client"
	// SecretKeyClientID is the client Secret key holding the client ID.
	SecretKeyClientID = "clientID"
	// SecretKeyClientSecret is the client Secret key holding the client secret.
	SecretKeyClientSecret = "clientSecret"
)

// IsOIDCClientSecretType reports whether t is an accepted OIDC client Secret type.
func IsOIDCClientSecretType(t string) bool {
	return t == SecretTypeOIDCClient || t == SecretTypeOIDCClientPinniped
}

// IsGitHubClientSecretType reports whether t is an accepted GitHub client Secret type.
func IsGitHubClientSecretType(t string) bool {
	return t == SecretTypeGitHubClient || t == SecretTypeGitHubClientPinniped
}
