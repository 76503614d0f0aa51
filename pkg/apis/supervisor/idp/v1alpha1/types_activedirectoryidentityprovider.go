// SPDX-License-Identifier: Apache-2.0

package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ActiveDirectoryIdentityProviderPhase summarizes the state of an ActiveDirectoryIdentityProvider.
//
// +kubebuilder:validation:Enum=Pending;Ready;Error
type ActiveDirectoryIdentityProviderPhase string

const (
	// ActiveDirectoryPhasePending is the phase of an ActiveDirectoryIdentityProvider not yet checked.
	ActiveDirectoryPhasePending ActiveDirectoryIdentityProviderPhase = "Pending"
	// ActiveDirectoryPhaseReady is the phase of an ActiveDirectoryIdentityProvider whose conditions are all True.
	ActiveDirectoryPhaseReady ActiveDirectoryIdentityProviderPhase = "Ready"
	// ActiveDirectoryPhaseError is the phase of an ActiveDirectoryIdentityProvider with a False condition.
	ActiveDirectoryPhaseError ActiveDirectoryIdentityProviderPhase = "Error"
)

// ActiveDirectoryIdentityProviderSpec configures an upstream Active Directory. Empty
// search fields get the runtime defaults documented on each field (see also the
// ActiveDirectoryDefault* constants).
type ActiveDirectoryIdentityProviderSpec struct {
	// Host is a domain controller's host[:port]. LDAPS (default port 636) is tried
	// first, then StartTLS (default port 389). Refresh also fails when the user's
	// password changed or the account is disabled or locked.
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
	Bind ActiveDirectoryIdentityProviderBind `json:"bind,omitempty"`

	// UserSearch configures how users are found.
	//
	// +optional
	UserSearch ActiveDirectoryIdentityProviderUserSearch `json:"userSearch,omitempty"`

	// GroupSearch configures how a user's groups are found.
	//
	// +optional
	GroupSearch ActiveDirectoryIdentityProviderGroupSearch `json:"groupSearch,omitempty"`
}

// ActiveDirectoryIdentityProviderBind names the Secret with the bind credentials.
type ActiveDirectoryIdentityProviderBind struct {
	// SecretName names a kubernetes.io/basic-auth Secret in the same namespace with
	// the keys username (the bind DN or user principal name) and password.
	//
	// +kubebuilder:validation:MinLength=1
	SecretName string `json:"secretName"`
}

// ActiveDirectoryIdentityProviderUserSearch configures how users are found.
type ActiveDirectoryIdentityProviderUserSearch struct {
	// Base is the DN under which users are searched. Default: the root DSE's
	// defaultNamingContext.
	//
	// +optional
	Base string `json:"base,omitempty"`

	// Filter is the LDAP filter; every "{}" is replaced by the typed username.
	// Default ActiveDirectoryDefaultUserSearchFilter (matches sAMAccountName, mail
	// or userPrincipalName of enabled person accounts).
	//
	// +optional
	Filter string `json:"filter,omitempty"`

	// Attributes names the user entry's attributes that become the identity.
	//
	// +optional
	Attributes ActiveDirectoryIdentityProviderUserSearchAttributes `json:"attributes,omitempty"`
}

// ActiveDirectoryIdentityProviderUserSearchAttributes names the attributes of a user entry.
type ActiveDirectoryIdentityProviderUserSearchAttributes struct {
	// Username is the attribute holding the username (case-sensitive; "dn"
	// allowed). Default "userPrincipalName".
	//
	// +optional
	Username string `json:"username,omitempty"`

	// UID is the attribute holding the user's unique ID (case-sensitive; "dn"
	// allowed). Default "objectGUID".
	//
	// +optional
	UID string `json:"uid,omitempty"`
}

// ActiveDirectoryIdentityProviderGroupSearch configures how a user's groups are found.
type ActiveDirectoryIdentityProviderGroupSearch struct {
	// Base is the DN under which groups are searched. Default: the root DSE's
	// defaultNamingContext.
	//
	// +optional
	Base string `json:"base,omitempty"`

	// Filter is the LDAP filter; every "{}" is replaced by the user's
	// UserAttributeForFilter value. Default ActiveDirectoryDefaultGroupSearchFilter
	// (transitive membership).
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
	Attributes ActiveDirectoryIdentityProviderGroupSearchAttributes `json:"attributes,omitempty"`

	// SkipGroupRefresh keeps the login-time groups on refresh instead of searching again.
	//
	// +optional
	SkipGroupRefresh bool `json:"skipGroupRefresh,omitempty"`
}

// ActiveDirectoryIdentityProviderGroupSearchAttributes names the attributes of a group entry.
type ActiveDirectoryIdentityProviderGroupSearchAttributes struct {
	// GroupName is the attribute holding the group name. Default
	// "<sAMAccountName>@<domain>".
	//
	// +optional
	GroupName string `json:"groupName,omitempty"`
}

// ActiveDirectoryIdentityProviderStatus is the observed state of an ActiveDirectoryIdentityProvider.
type ActiveDirectoryIdentityProviderStatus struct {
	// Phase summarizes the conditions.
	//
	// +kubebuilder:default=Pending
	// +optional
	Phase ActiveDirectoryIdentityProviderPhase `json:"phase,omitempty"`

	// Conditions are the observations of the identity provider's state.
	//
	// +patchMergeKey=type
	// +patchStrategy=merge
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// ActiveDirectoryIdentityProvider is an upstream Active Directory identity provider.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:resource:categories=selkie;selkie-idp;selkie-idps
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name=Host,type=string,JSONPath=`.spec.host`
// +kubebuilder:printcolumn:name=Bind Secret,type=string,JSONPath=`.spec.bind.secretName`
// +kubebuilder:printcolumn:name=Status,type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name=Age,type=date,JSONPath=`.metadata.creationTimestamp`
type ActiveDirectoryIdentityProvider struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired configuration.
	Spec ActiveDirectoryIdentityProviderSpec `json:"spec"`

	// Status is the observed state.
	//
	// +optional
	Status ActiveDirectoryIdentityProviderStatus `json:"status,omitempty"`
}

// ActiveDirectoryIdentityProviderList is a list of ActiveDirectoryIdentityProviders.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type ActiveDirectoryIdentityProviderList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the ActiveDirectoryIdentityProviders.
	Items []ActiveDirectoryIdentityProvider `json:"items"`
}
