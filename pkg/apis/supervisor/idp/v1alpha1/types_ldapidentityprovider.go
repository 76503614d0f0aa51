// SPDX-License-Identifier: Apache-2.0

package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// LDAPIdentityProviderPhase summarizes the state of an LDAPIdentityProvider.
//
// +kubebuilder:validation:Enum=Pending;Ready;Error
type LDAPIdentityProviderPhase string

const (
	// LDAPPhasePending is the phase of an LDAPIdentityProvider not yet checked.
	LDAPPhasePending LDAPIdentityProviderPhase = "Pending"
	// LDAPPhaseReady is the phase of an LDAPIdentityProvider whose conditions are all True.
	LDAPPhaseReady LDAPIdentityProviderPhase = "Ready"
	// LDAPPhaseError is the phase of an LDAPIdentityProvider with a False condition.
	LDAPPhaseError LDAPIdentityProviderPhase = "Error"
)

// LDAPIdentityProviderSpec configures an upstream LDAP server. Empty search fields
// get the runtime defaults documented on each field (see also the LDAPDefault*
// constants).
type LDAPIdentityProviderSpec struct {
	// Host is the server's host[:port]. LDAPS (default port 636) is tried first,
	// then StartTLS (default port 389).
	//
	// +kubebuilder:validation:MinLength=1
	Host string `json:"host"`

	// TLS configures trust for the server.
	//
	// +optional
	TLS *TLSSpec `json:"tls,omitempty"`

	// Bind names the Secret with the bind credentials.
	//
	// +optional
	Bind LDAPIdentityProviderBind `json:"bind,omitempty"`

	// UserSearch configures how users are found.
	//
	// +optional
	UserSearch LDAPIdentityProviderUserSearch `json:"userSearch,omitempty"`

	// GroupSearch configures how a user's groups are found.
	//
	// +optional
	GroupSearch LDAPIdentityProviderGroupSearch `json:"groupSearch,omitempty"`
}

// LDAPIdentityProviderBind names the Secret with the bind credentials.
type LDAPIdentityProviderBind struct {
	// SecretName names a kubernetes.io/basic-auth Secret in the same namespace with
	// the keys username (the bind DN) and password.
	//
	// +kubebuilder:validation:MinLength=1
	SecretName string `json:"secretName"`
}

// LDAPIdentityProviderUserSearch configures how users are found.
//
// +kubebuilder:validation:XValidation:rule="!has(self.attributes) || !has(self.attributes.username) || self.attributes.username != 'dn' || (has(self.filter) && size(self.filter) > 0)",message="filter is required when attributes.username is dn"
type LDAPIdentityProviderUserSearch struct {
	// Base is the DN under which users are searched.
	//
	// +kubebuilder:validation:MinLength=1
	// +optional
	Base string `json:"base,omitempty"`

	// Filter is the LDAP filter; every "{}" is replaced by the typed username. When
	// empty it is "<username attribute>={}"; it is required when the username
	// attribute is "dn".
	//
	// +optional
	Filter string `json:"filter,omitempty"`

	// Attributes names the user entry's attributes that become the identity.
	//
	// +optional
	Attributes LDAPIdentityProviderUserSearchAttributes `json:"attributes,omitempty"`
}

// LDAPIdentityProviderUserSearchAttributes names the attributes of a user entry.
type LDAPIdentityProviderUserSearchAttributes struct {
	// Username is the attribute holding the username (case-sensitive; "dn" allowed).
	//
	// +kubebuilder:validation:MinLength=1
	// +optional
	Username string `json:"username,omitempty"`

	// UID is the attribute holding the user's unique ID (case-sensitive; "dn" allowed).
	//
	// +kubebuilder:validation:MinLength=1
	// +optional
	UID string `json:"uid,omitempty"`
}

// LDAPIdentityProviderGroupSearch configures how a user's groups are found.
type LDAPIdentityProviderGroupSearch struct {
	// Base is the DN under which groups are searched. When empty the user has no groups.
	//
	// +optional
	Base string `json:"base,omitempty"`

	// Filter is the LDAP filter; every "{}" is replaced by the user's
	// UserAttributeForFilter value. Default LDAPDefaultGroupSearchFilter.
	//
	// +optional
	Filter string `json:"filter,omitempty"`

	// UserAttributeForFilter is the user attribute substituted into Filter.
	// Default "dn".
	//
	// +optional
	UserAttributeForFilter string `json:"userAttributeForFilter,omitempty"`

	// Attributes names the group entry's attributes.
	//
	// +optional
	Attributes LDAPIdentityProviderGroupSearchAttributes `json:"attributes,omitempty"`

	// SkipGroupRefresh keeps the login-time groups on refresh instead of searching again.
	//
	// +optional
	SkipGroupRefresh bool `json:"skipGroupRefresh,omitempty"`
}

// LDAPIdentityProviderGroupSearchAttributes names the attributes of a group entry.
type LDAPIdentityProviderGroupSearchAttributes struct {
	// GroupName is the attribute holding the group name. Default "dn".
	//
	// +optional
	GroupName string `json:"groupName,omitempty"`
}

// LDAPIdentityProviderStatus is the observed state of an LDAPIdentityProvider.
type LDAPIdentityProviderStatus struct {
	// Phase summarizes the conditions.
	//
	// +kubebuilder:default=Pending
	// +optional
	Phase LDAPIdentityProviderPhase `json:"phase,omitempty"`

	// Conditions are the observations of the identity provider's state.
	//
	// +patchMergeKey=type
	// +patchStrategy=merge
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// LDAPIdentityProvider is an upstream LDAP identity provider.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:resource:categories=selkie;selkie-idp;selkie-idps
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name=Host,type=string,JSONPath=`.spec.host`
// +kubebuilder:printcolumn:name=Bind Secret,type=string,JSONPath=`.spec.bind.secretName`
// +kubebuilder:printcolumn:name=Status,type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name=Age,type=date,JSONPath=`.metadata.creationTimestamp`
type LDAPIdentityProvider struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired configuration.
	Spec LDAPIdentityProviderSpec `json:"spec"`

	// Status is the observed state.
	//
	// +optional
	Status LDAPIdentityProviderStatus `json:"status,omitempty"`
}

// LDAPIdentityProviderList is a list of LDAPIdentityProviders.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type LDAPIdentityProviderList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the LDAPIdentityProviders.
	Items []LDAPIdentityProvider `json:"items"`
}
