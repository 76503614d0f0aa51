// SPDX-License-Identifier: Apache-2.0

package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// OIDCIdentityProviderPhase summarizes the state of an OIDCIdentityProvider.
//
// +kubebuilder:validation:Enum=Pending;Ready;Error
type OIDCIdentityProviderPhase string

const (
	// OIDCPhasePending is the phase of an OIDCIdentityProvider not yet checked.
	OIDCPhasePending OIDCIdentityProviderPhase = "Pending"
	// OIDCPhaseReady is the phase of an OIDCIdentityProvider whose conditions are all True.
	OIDCPhaseReady OIDCIdentityProviderPhase = "Ready"
	// OIDCPhaseError is the phase of an OIDCIdentityProvider with a False condition.
	OIDCPhaseError OIDCIdentityProviderPhase = "Error"
)

// OIDCIdentityProviderSpec configures an upstream OIDC provider.
type OIDCIdentityProviderSpec struct {
	// Issuer is the upstream issuer URL, used for discovery. The supervisor's
	// redirect URI at the upstream is <FederationDomain issuer>/callback.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:Pattern=`^https://`
	Issuer string `json:"issuer"`

	// TLS configures trust for the upstream's endpoints.
	//
	// +optional
	TLS *TLSSpec `json:"tls,omitempty"`

	// AuthorizationConfig configures the upstream authorization request.
	//
	// +optional
	AuthorizationConfig OIDCAuthorizationConfig `json:"authorizationConfig,omitempty"`

	// Claims maps upstream ID token claims to the user's identity.
	//
	// +optional
	Claims OIDCClaims `json:"claims,omitempty"`

	// Client names the Secret with the upstream client credentials.
	Client OIDCClient `json:"client"`
}

// OIDCAuthorizationConfig configures the upstream authorization request.
type OIDCAuthorizationConfig struct {
	// AdditionalScopes are requested from the upstream besides openid, which is
	// always requested. When empty, "openid offline_access email profile" is requested.
	//
	// +optional
	AdditionalScopes []string `json:"additionalScopes,omitempty"`

	// AdditionalAuthorizeParameters are added to the upstream authorization
	// request. Parameters the supervisor sets itself are forbidden.
	//
	// +patchMergeKey=name
	// +patchStrategy=merge
	// +listType=map
	// +listMapKey=name
	// +optional
	AdditionalAuthorizeParameters []Parameter `json:"additionalAuthorizeParameters,omitempty" patchStrategy:"merge" patchMergeKey:"name"`

	// AllowPasswordGrant enables the upstream resource owner password grant and
	// with it the cli_password flow.
	//
	// +optional
	AllowPasswordGrant bool `json:"allowPasswordGrant,omitempty"`
}

// ForbiddenAuthorizeParameterNames are the authorize parameters that the
// supervisor sets itself and that AdditionalAuthorizeParameters must not contain.
// The CRD enforces the same list with CEL.
func ForbiddenAuthorizeParameterNames() []string {
	return []string{
		"response_type", "scope", "client_id", "state", "nonce",
		"code_challenge", "code_challenge_method", "redirect_uri", "hd",
	}
}

// Parameter is a name and value pair.
//
// +kubebuilder:validation:XValidation:rule="!(self.name in ['response_type', 'scope', 'client_id', 'state', 'nonce', 'code_challenge', 'code_challenge_method', 'redirect_uri', 'hd'])",message="name must not be one of response_type, scope, client_id, state, nonce, code_challenge, code_challenge_method, redirect_uri, hd"
type Parameter struct {
	// Name is the parameter name.
	//
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// Value is the parameter value.
	//
	// +optional
	Value string `json:"value,omitempty"`
}

// OIDCClaims maps upstream claims to the user's identity.
type OIDCClaims struct {
	// Username is the claim holding the username. When empty the username is
	// "<upstream iss>?sub=<query-escaped sub>". For "email", an email_verified claim,
	// if present, must be true.
	//
	// +optional
	Username string `json:"username"`

	// Groups is the claim holding the groups (a string or a list of strings). When
	// empty the user has no groups.
	//
	// +optional
	Groups string `json:"groups"`

	// AdditionalClaimMappings maps new claim names to upstream claim names; the
	// values are emitted under additionalClaims in downstream ID tokens.
	//
	// +optional
	AdditionalClaimMappings map[string]string `json:"additionalClaimMappings,omitempty"`
}

// OIDCClient names the Secret with the upstream client credentials.
type OIDCClient struct {
	// SecretName names a Secret in the same namespace of type
	// secrets.selkie.dev/oidc-client (or secrets.pinniped.dev/oidc-client) with the
	// keys clientID and clientSecret.
	//
	// +kubebuilder:validation:MinLength=1
	SecretName string `json:"secretName"`
}

// OIDCIdentityProviderStatus is the observed state of an OIDCIdentityProvider.
type OIDCIdentityProviderStatus struct {
	// Phase summarizes the conditions.
	//
	// +kubebuilder:default=Pending
	// +optional
	Phase OIDCIdentityProviderPhase `json:"phase,omitempty"`

	// Conditions are the observations of the identity provider's state.
	//
	// +patchMergeKey=type
	// +patchStrategy=merge
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// OIDCIdentityProvider is an upstream OIDC identity provider.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:resource:categories=selkie;selkie-idp;selkie-idps
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name=Issuer,type=string,JSONPath=`.spec.issuer`
// +kubebuilder:printcolumn:name=Status,type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name=Age,type=date,JSONPath=`.metadata.creationTimestamp`
type OIDCIdentityProvider struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired configuration.
	Spec OIDCIdentityProviderSpec `json:"spec"`

	// Status is the observed state.
	//
	// +optional
	Status OIDCIdentityProviderStatus `json:"status,omitempty"`
}

// OIDCIdentityProviderList is a list of OIDCIdentityProviders.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type OIDCIdentityProviderList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the OIDCIdentityProviders.
	Items []OIDCIdentityProvider `json:"items"`
}
