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

	// ClaimValidationRules are checked against the token's claims before anything is
	// mapped; a token that fails one is refused. Each rule is either claim and
	// requiredValue (the claim must be that string) or expression and message (a CEL
	// expression over `claims` that must be true), as in Kubernetes' structured
	// authentication configuration.
	//
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	ClaimValidationRules []ClaimValidationRule `json:"claimValidationRules,omitempty"`

	// Claims says how the username, groups, UID and extras are taken from the token:
	// by claim name, or by a CEL expression over `claims`.
	//
	// +kubebuilder:default={}
	// +optional
	Claims JWTTokenClaims `json:"claims"`

	// UserValidationRules are CEL expressions over `user` (username, uid, groups,
	// extra), checked after the mapping; a token whose user fails one is refused. The
	// concierge always adds two of its own: no username and no group may start with
	// "system:".
	//
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	UserValidationRules []UserValidationRule `json:"userValidationRules,omitempty"`

	// TLS configures trust for the discovery and JWKS endpoints.
	//
	// +optional
	TLS *TLSSpec `json:"tls,omitempty"`
}

// JWTTokenClaims says how the identity is read from a validated JWT. Values read by
// claim name are used without a prefix. Each ...Expression field is a CEL expression
// over `claims` that replaces the claim of the same name when set.
type JWTTokenClaims struct {
	// Username is the claim holding the username. Ignored when UsernameExpression is set.
	//
	// +kubebuilder:default=username
	// +optional
	Username string `json:"username"`

	// UsernameExpression computes the username: a CEL expression over `claims` that
	// returns a non-empty string, such as `"ci:" + claims.repository`.
	//
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	UsernameExpression string `json:"usernameExpression,omitempty"`

	// Groups is the claim holding the groups (a string or a list of strings). Ignored
	// when GroupsExpression is set.
	//
	// +kubebuilder:default=groups
	// +optional
	Groups string `json:"groups"`

	// GroupsExpression computes the groups: a CEL expression over `claims` that returns
	// a string or a list of strings.
	//
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	GroupsExpression string `json:"groupsExpression,omitempty"`

	// UID is the claim holding the user's UID. A client certificate cannot carry a UID:
	// a TokenCredentialRequest for a user with one fails, and the status says so.
	//
	// +optional
	UID string `json:"uid,omitempty"`

	// UIDExpression computes the UID: a CEL expression over `claims` that returns a string.
	//
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	UIDExpression string `json:"uidExpression,omitempty"`

	// Extra adds user extras, each computed by a CEL expression. A client certificate
	// cannot carry extras: a TokenCredentialRequest for a user with one fails, and the
	// status says so.
	//
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	Extra []ExtraMapping `json:"extra,omitempty"`
}

// ClaimValidationRule is one check of a token's claims: either Claim with
// RequiredValue, or Expression with an optional Message.
type ClaimValidationRule struct {
	// Claim names a claim that must be present and a string equal to RequiredValue.
	//
	// +optional
	Claim string `json:"claim,omitempty"`

	// RequiredValue is the value Claim must have.
	//
	// +optional
	RequiredValue string `json:"requiredValue,omitempty"`

	// Expression is a CEL expression over `claims` that must return true, such as
	// `claims.ref == "refs/heads/main"`.
	//
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Expression string `json:"expression,omitempty"`

	// Message is logged (never sent to the client) when Expression returns false.
	//
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
}

// UserValidationRule is a CEL expression over the mapped `user` that must return true.
type UserValidationRule struct {
	// Expression is the CEL expression, such as `!user.username.startsWith("ci:fork/")`.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	Expression string `json:"expression"`

	// Message is logged (never sent to the client) when Expression returns false.
	//
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
}

// ExtraMapping computes one user extra.
type ExtraMapping struct {
	// Key is the extra's key: a domain-prefixed path in lower case, such as
	// "ci.example.com/workflow"; keys under k8s.io and kubernetes.io are reserved.
	//
	// +kubebuilder:validation:MinLength=1
	Key string `json:"key"`

	// ValueExpression is a CEL expression over `claims` that returns a string or a list
	// of strings; an empty result adds nothing.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	ValueExpression string `json:"valueExpression"`
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
