// SPDX-License-Identifier: Apache-2.0

package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// JWTAuthenticatorPhase summarizes the state of a JWTAuthenticator.
//
// +kubebuilder:validation:Enum=Pending;Ready;Error
type JWTAuthenticatorPhase string

const (
	// JWTAuthenticatorPhasePending is the phase of a JWTAuthenticator not yet checked.
	JWTAuthenticatorPhasePending JWTAuthenticatorPhase = "Pending"
	// JWTAuthenticatorPhaseReady is the phase of a JWTAuthenticator whose conditions are all True.
	JWTAuthenticatorPhaseReady JWTAuthenticatorPhase = "Ready"
	// JWTAuthenticatorPhaseError is the phase of a JWTAuthenticator with a False condition.
	JWTAuthenticatorPhaseError JWTAuthenticatorPhase = "Error"
)

// JWTAuthenticatorSpec configures how JWTs are validated.
type JWTAuthenticatorSpec struct {
	// Issuer is the OIDC issuer URL. It is used for discovery and must equal the
	// token's iss claim. It must be https; a query, a fragment or a
	// /.well-known/openid-configuration suffix are reported by the IssuerURLValid
	// condition rather than rejected on write.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:Pattern=`^https://`
	Issuer string `json:"issuer"`

	// Audience is the value the token's aud claim must contain.
	//
	// +kubebuilder:validation:MinLength=1
	Audience string `json:"audience"`

	// Claims names the token claims that carry the username and groups.
	//
	// +kubebuilder:default={}
	// +optional
	Claims JWTTokenClaims `json:"claims"`

	// TLS configures trust for the discovery and JWKS endpoints.
	//
	// +optional
	TLS *TLSSpec `json:"tls,omitempty"`
}

// JWTTokenClaims names the claims read from a validated JWT. Their values are used
// without a prefix.
type JWTTokenClaims struct {
	// Username is the claim holding the username.
	//
	// +kubebuilder:default=username
	// +optional
	Username string `json:"username"`

	// Groups is the claim holding the groups (a string or a list of strings).
	//
	// +kubebuilder:default=groups
	// +optional
	Groups string `json:"groups"`
}

// JWTAuthenticatorStatus is the observed state of a JWTAuthenticator.
type JWTAuthenticatorStatus struct {
	// Phase summarizes the conditions.
	//
	// +kubebuilder:default=Pending
	// +optional
	Phase JWTAuthenticatorPhase `json:"phase,omitempty"`

	// Conditions are the observations of the authenticator's state.
	//
	// +patchMergeKey=type
	// +patchStrategy=merge
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// JWTAuthenticator makes the concierge accept JWTs from one OIDC issuer, such as a
// Selkie supervisor, in TokenCredentialRequests.
//
// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:resource:scope=Cluster,categories=selkie;selkie-authenticator;selkie-authenticators
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name=Issuer,type=string,JSONPath=`.spec.issuer`
// +kubebuilder:printcolumn:name=Audience,type=string,JSONPath=`.spec.audience`
// +kubebuilder:printcolumn:name=Status,type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name=Age,type=date,JSONPath=`.metadata.creationTimestamp`
type JWTAuthenticator struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired configuration.
	Spec JWTAuthenticatorSpec `json:"spec"`

	// Status is the observed state.
	//
	// +optional
	Status JWTAuthenticatorStatus `json:"status,omitempty"`
}

// JWTAuthenticatorList is a list of JWTAuthenticators.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type JWTAuthenticatorList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the JWTAuthenticators.
	Items []JWTAuthenticator `json:"items"`
}
