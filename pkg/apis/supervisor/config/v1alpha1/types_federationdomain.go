// SPDX-License-Identifier: Apache-2.0

package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FederationDomainPhase summarizes the state of a FederationDomain.
//
// +kubebuilder:validation:Enum=Pending;Ready;Error
type FederationDomainPhase string

const (
	// FederationDomainPhasePending is the phase of a FederationDomain not yet checked.
	FederationDomainPhasePending FederationDomainPhase = "Pending"
	// FederationDomainPhaseReady is the phase of a FederationDomain whose conditions are all True.
	FederationDomainPhaseReady FederationDomainPhase = "Ready"
	// FederationDomainPhaseError is the phase of a FederationDomain with a False condition.
	FederationDomainPhaseError FederationDomainPhase = "Error"
)

// FederationDomainSpec configures an OIDC issuer served by the supervisor.
type FederationDomainSpec struct {
	// Issuer is the issuer URL: the iss claim of issued tokens and the base URL of
	// every endpoint of this FederationDomain. It must be an https URL with a host and
	// without userinfo, query, fragment or trailing slash. Uniqueness across
	// FederationDomains is reported by the IssuerIsUnique condition.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https'",message="issuer must be an HTTPS URL"
	// +kubebuilder:validation:XValidation:rule="!isURL(self) || url(self).getHostname() != ''",message="issuer must have a host"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[^:/?#]+://[^/?#]*@')",message="issuer must not contain a username or password"
	// +kubebuilder:validation:XValidation:rule="!self.contains('?')",message="issuer must not contain a query"
	// +kubebuilder:validation:XValidation:rule="!self.contains('#')",message="issuer must not contain a fragment"
	// +kubebuilder:validation:XValidation:rule="!self.endsWith('/')",message="issuer must not end with a slash"
	Issuer string `json:"issuer"`

	// TLS names the Secret holding the SNI serving certificate for the issuer's host.
	//
	// +optional
	TLS *FederationDomainTLSSpec `json:"tls,omitempty"`

	// IdentityProviders are the identity providers users of this FederationDomain
	// may log in with. When empty (legacy mode) the single identity provider in the
	// namespace is used under its resource name, and logins are rejected if there
	// is more than one. Unique display names and resolvable references are reported
	// by conditions.
	//
	// +optional
	IdentityProviders []FederationDomainIdentityProvider `json:"identityProviders,omitempty"`
}

// FederationDomainTLSSpec configures the serving certificate of a FederationDomain.
type FederationDomainTLSSpec struct {
	// SecretName names a kubernetes.io/tls Secret (keys tls.crt and tls.key) in the
	// same namespace, served by SNI for the issuer's hostname. It is ignored when the
	// issuer host is an IP address. All FederationDomains with the same hostname must
	// name the same Secret.
	//
	// +optional
	SecretName string `json:"secretName,omitempty"`
}

// FederationDomainIdentityProvider makes an identity provider available in a
// FederationDomain.
type FederationDomainIdentityProvider struct {
	// DisplayName is the name users see; it appears in kubeconfigs and in the sub
	// claim, so changing it disrupts existing users. It must be unique within the
	// FederationDomain.
	//
	// +kubebuilder:validation:MinLength=1
	DisplayName string `json:"displayName"`

	// ObjectRef names the identity provider resource: apiGroup
	// idp.supervisor.<suffix> and one of the kinds OIDCIdentityProvider,
	// LDAPIdentityProvider, ActiveDirectoryIdentityProvider, GitHubIdentityProvider,
	// in the same namespace. The group suffix is set at install time, so the
	// reference is checked by the supervisor (IdentityProvidersObjectRef* conditions).
	ObjectRef corev1.TypedLocalObjectReference `json:"objectRef"`

	// Transforms are applied to the identity at every login and refresh.
	//
	// +optional
	Transforms FederationDomainTransforms `json:"transforms,omitempty"`

	// SessionLifetimeSeconds overrides the supervisor's session lifetime for logins
	// through this identity provider (Selkie extension; 1 hour to 7 days).
	//
	// +kubebuilder:validation:Minimum=3600
	// +kubebuilder:validation:Maximum=604800
	// +optional
	SessionLifetimeSeconds *int32 `json:"sessionLifetimeSeconds,omitempty"`
}

// FederationDomainSecrets names the Secrets holding a FederationDomain's keys.
type FederationDomainSecrets struct {
	// JWKS names the Secret with the signing and verification keys.
	//
	// +optional
	JWKS corev1.LocalObjectReference `json:"jwks,omitempty"`

	// TokenSigningKey names the Secret with the key that signs tokens.
	//
	// +optional
	TokenSigningKey corev1.LocalObjectReference `json:"tokenSigningKey,omitempty"`

	// StateSigningKey names the Secret with the key that signs state parameters.
	//
	// +optional
	StateSigningKey corev1.LocalObjectReference `json:"stateSigningKey,omitempty"`

	// StateEncryptionKey names the Secret with the key that encrypts state parameters.
	//
	// +optional
	StateEncryptionKey corev1.LocalObjectReference `json:"stateEncryptionKey,omitempty"`
}

// FederationDomainStatus is the observed state of a FederationDomain.
type FederationDomainStatus struct {
	// Phase summarizes the conditions.
	//
	// +kubebuilder:default=Pending
	// +optional
	Phase FederationDomainPhase `json:"phase,omitempty"`

	// Conditions are the observations of the FederationDomain's state.
	//
	// +patchMergeKey=type
	// +patchStrategy=merge
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// Secrets names the Secrets holding this FederationDomain's keys.
	//
	// +optional
	Secrets FederationDomainSecrets `json:"secrets,omitempty"`
}

// FederationDomain is an OIDC issuer served by the supervisor.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:resource:categories=selkie
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name=Issuer,type=string,JSONPath=`.spec.issuer`
// +kubebuilder:printcolumn:name=Status,type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name=Age,type=date,JSONPath=`.metadata.creationTimestamp`
type FederationDomain struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired configuration.
	Spec FederationDomainSpec `json:"spec"`

	// Status is the observed state.
	//
	// +optional
	Status FederationDomainStatus `json:"status,omitempty"`
}

// FederationDomainList is a list of FederationDomains.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type FederationDomainList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the FederationDomains.
	Items []FederationDomain `json:"items"`
}
