// SPDX-License-Identifier: Apache-2.0

package v1alpha1

// Condition types and reasons shared by every kind.
const (
	// ConditionReady is True only when every other condition is True.
	ConditionReady = "Ready"
	// ReasonSuccess marks a True condition.
	ReasonSuccess = "Success"
	// ReasonNotReady marks a False Ready condition.
	ReasonNotReady = "NotReady"
	// ReasonUnableToValidate marks a condition that could not be checked because another failed.
	ReasonUnableToValidate = "UnableToValidate"
	// MessageUnableToValidate is the message of every condition with ReasonUnableToValidate.
	MessageUnableToValidate = "unable to validate; see other conditions for details"
)

// FederationDomain condition types.
const (
	// ConditionIssuerURLValid reports whether spec.issuer is usable.
	ConditionIssuerURLValid = "IssuerURLValid"
	// ConditionIssuerIsUnique reports whether no other FederationDomain has the same issuer.
	ConditionIssuerIsUnique = "IssuerIsUnique"
	// ConditionOneTLSSecretPerIssuerHostname reports whether FederationDomains sharing
	// a hostname name the same TLS Secret.
	ConditionOneTLSSecretPerIssuerHostname = "OneTLSSecretPerIssuerHostname"
	// ConditionIdentityProvidersFound reports whether every referenced identity provider exists.
	ConditionIdentityProvidersFound = "IdentityProvidersFound"
	// ConditionIdentityProvidersDisplayNamesUnique reports whether display names are unique.
	ConditionIdentityProvidersDisplayNamesUnique = "IdentityProvidersDisplayNamesUnique"
	// ConditionIdentityProvidersObjectRefAPIGroupSuffixValid reports whether every
	// objectRef.apiGroup is idp.supervisor.<suffix>.
	ConditionIdentityProvidersObjectRefAPIGroupSuffixValid = "IdentityProvidersObjectRefAPIGroupSuffixValid"
	// ConditionIdentityProvidersObjectRefKindValid reports whether every objectRef.kind
	// is an identity provider kind.
	ConditionIdentityProvidersObjectRefKindValid = "IdentityProvidersObjectRefKindValid"
	// ConditionTransformsExpressionsValid reports whether every transform expression compiles.
	ConditionTransformsExpressionsValid = "TransformsExpressionsValid"
	// ConditionTransformsExamplesPassed reports whether every transform example passes.
	ConditionTransformsExamplesPassed = "TransformsExamplesPassed"
)

// FederationDomain reasons.
const (
	// ReasonDuplicateIssuer marks an issuer used by another FederationDomain.
	ReasonDuplicateIssuer = "DuplicateIssuer"
	// ReasonDifferentSecretRefsFound marks FederationDomains on one hostname with different TLS Secrets.
	ReasonDifferentSecretRefsFound = "DifferentSecretRefsFound"
	// ReasonLegacyConfigurationSuccess marks legacy mode with exactly one identity provider.
	ReasonLegacyConfigurationSuccess = "LegacyConfigurationSuccess"
	// ReasonLegacyConfigurationIdentityProviderNotFound marks legacy mode without a
	// single identity provider.
	ReasonLegacyConfigurationIdentityProviderNotFound = "LegacyConfigurationIdentityProviderNotFound"
	// ReasonIdentityProvidersObjectRefsNotFound marks references to missing identity providers.
	ReasonIdentityProvidersObjectRefsNotFound = "IdentityProvidersObjectRefsNotFound"
	// ReasonIdentityProviderNotSpecified marks legacy mode with several identity providers.
	ReasonIdentityProviderNotSpecified = "IdentityProviderNotSpecified"
	// ReasonDuplicateDisplayNames marks duplicate display names.
	ReasonDuplicateDisplayNames = "DuplicateDisplayNames"
	// ReasonAPIGroupUnrecognized marks an objectRef with a foreign API group.
	ReasonAPIGroupUnrecognized = "APIGroupUnrecognized"
	// ReasonKindUnrecognized marks an objectRef with an unknown kind.
	ReasonKindUnrecognized = "KindUnrecognized"
	// ReasonInvalidTransformsExpressions marks expressions that do not compile.
	ReasonInvalidTransformsExpressions = "InvalidTransformsExpressions"
	// ReasonTransformsExamplesFailed marks failing examples.
	ReasonTransformsExamplesFailed = "TransformsExamplesFailed"
)

// OIDCClient condition types and reasons.
const (
	// ConditionAllowedGrantTypesValid reports whether the grant types are consistent with the scopes.
	ConditionAllowedGrantTypesValid = "AllowedGrantTypesValid"
	// ConditionAllowedScopesValid reports whether the scopes are consistent with the grant types.
	ConditionAllowedScopesValid = "AllowedScopesValid"
	// ConditionClientSecretExists reports whether at least one valid client secret is stored.
	ConditionClientSecretExists = "ClientSecretExists"
	// ReasonMissingRequiredValue marks a grant type or scope that another one requires.
	ReasonMissingRequiredValue = "MissingRequiredValue"
	// ReasonNoClientSecretFound marks a client without stored secrets.
	ReasonNoClientSecretFound = "NoClientSecretFound"
	// ReasonInvalidClientSecretFound marks a stored secret that is not a bcrypt hash of cost 12 or more.
	ReasonInvalidClientSecretFound = "InvalidClientSecretFound"
)
