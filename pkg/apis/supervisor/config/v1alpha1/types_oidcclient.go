// SPDX-License-Identifier: Apache-2.0

package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// OIDCClientNamePrefix is the required prefix of an OIDCClient's name, which is
// also its client ID. It is a wire constant, independent of the group suffix.
const OIDCClientNamePrefix = "client.oauth.pinniped.dev-"

// OIDCClientPhase summarizes the state of an OIDCClient.
//
// +kubebuilder:validation:Enum=Pending;Ready;Error
type OIDCClientPhase string

const (
	// OIDCClientPhasePending is the phase of an OIDCClient not yet checked.
	OIDCClientPhasePending OIDCClientPhase = "Pending"
	// OIDCClientPhaseReady is the phase of an OIDCClient whose conditions are all True.
	OIDCClientPhaseReady OIDCClientPhase = "Ready"
	// OIDCClientPhaseError is the phase of an OIDCClient with a False condition.
	OIDCClientPhaseError OIDCClientPhase = "Error"
)

// RedirectURI is an allowed redirect_uri: https, or http on a loopback IP (whose
// port is ignored when matching).
//
// +kubebuilder:validation:Pattern=`^https://.+|^http://(127\.0\.0\.1|\[::1\])(:\d+)?/`
type RedirectURI string

// GrantType is an allowed grant_type.
//
// +kubebuilder:validation:Enum=authorization_code;refresh_token;"urn:ietf:params:oauth:grant-type:token-exchange"
type GrantType string

const (
	// GrantTypeAuthorizationCode is the authorization code grant; always required.
	GrantTypeAuthorizationCode GrantType = "authorization_code"
	// GrantTypeRefreshToken is the refresh grant; allowed if and only if offline_access is.
	GrantTypeRefreshToken GrantType = "refresh_token"
	// GrantTypeTokenExchange is RFC 8693 token exchange; allowed if and only if
	// pinniped:request-audience is.
	GrantTypeTokenExchange GrantType = "urn:ietf:params:oauth:grant-type:token-exchange"
)

// Scope is an allowed scope.
//
// +kubebuilder:validation:Enum=openid;offline_access;username;groups;"pinniped:request-audience"
type Scope string

const (
	// ScopeOpenID requests ID tokens; always required.
	ScopeOpenID Scope = "openid"
	// ScopeOfflineAccess requests a refresh token.
	ScopeOfflineAccess Scope = "offline_access"
	// ScopeUsername requests the username claim.
	ScopeUsername Scope = "username"
	// ScopeGroups requests the groups claim.
	ScopeGroups Scope = "groups"
	// ScopeRequestAudience allows token exchange for a cluster audience; it requires
	// username and groups.
	ScopeRequestAudience Scope = "pinniped:request-audience"
)

// OIDCClientSpec configures a dynamic OAuth client.
type OIDCClientSpec struct {
	// AllowedRedirectURIs are the accepted redirect_uri values.
	//
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	AllowedRedirectURIs []RedirectURI `json:"allowedRedirectURIs"`

	// AllowedGrantTypes are the accepted grant_type values. Required combinations
	// with AllowedScopes are reported by the AllowedGrantTypesValid condition.
	//
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	AllowedGrantTypes []GrantType `json:"allowedGrantTypes"`

	// AllowedScopes are the scopes the client may request. Required combinations
	// with AllowedGrantTypes are reported by the AllowedScopesValid condition.
	//
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	AllowedScopes []Scope `json:"allowedScopes"`

	// TokenLifetimes overrides token lifetimes for this client.
	//
	// +optional
	TokenLifetimes OIDCClientTokenLifetimes `json:"tokenLifetimes,omitempty"`
}

// OIDCClientTokenLifetimes overrides token lifetimes for an OIDCClient.
type OIDCClientTokenLifetimes struct {
	// IDTokenSeconds is the lifetime of ID tokens from the authorization code and
	// refresh grants (not token exchange), from 120 to 1800 seconds.
	//
	// +kubebuilder:validation:Minimum=120
	// +kubebuilder:validation:Maximum=1800
	// +optional
	IDTokenSeconds *int32 `json:"idTokenSeconds,omitempty"`
}

// OIDCClientStatus is the observed state of an OIDCClient.
type OIDCClientStatus struct {
	// Phase summarizes the conditions.
	//
	// +kubebuilder:default=Pending
	// +optional
	Phase OIDCClientPhase `json:"phase,omitempty"`

	// Conditions are the observations of the client's state.
	//
	// +patchMergeKey=type
	// +patchStrategy=merge
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// TotalClientSecrets is the number of stored client secrets; always serialized.
	//
	// +optional
	TotalClientSecrets int32 `json:"totalClientSecrets"`
}

// OIDCClient is a dynamic OAuth client of the FederationDomains in its namespace.
// Its name is its client ID and must start with OIDCClientNamePrefix.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:resource:categories=selkie
// +kubebuilder:subresource:status
// +kubebuilder:validation:XValidation:rule="self.metadata.name.startsWith('client.oauth.pinniped.dev-')",message="metadata.name must start with client.oauth.pinniped.dev-"
// +kubebuilder:printcolumn:name=Privileged Scopes,type=string,JSONPath=`.spec.allowedScopes[?(@ == "pinniped:request-audience")]`
// +kubebuilder:printcolumn:name=Client Secrets,type=integer,JSONPath=`.status.totalClientSecrets`
// +kubebuilder:printcolumn:name=Status,type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name=Age,type=date,JSONPath=`.metadata.creationTimestamp`
type OIDCClient struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired configuration.
	Spec OIDCClientSpec `json:"spec"`

	// Status is the observed state.
	//
	// +optional
	Status OIDCClientStatus `json:"status,omitempty"`
}

// OIDCClientList is a list of OIDCClients.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type OIDCClientList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the OIDCClients.
	Items []OIDCClient `json:"items"`
}
