// SPDX-License-Identifier: Apache-2.0

package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Field selectors a list of SupervisorSessions accepts (exact match, "=" or "=="), for
// example `kubectl get supervisorsessions --field-selector status.username=alice`.
const (
	FieldSelectorUsername = "status.username"
	FieldSelectorIssuer   = "status.issuer"
)

// SupervisorSessionIdentityProvider names the upstream identity provider of a session.
type SupervisorSessionIdentityProvider struct {
	// DisplayName is the provider's name in the FederationDomain
	// (spec.identityProviders[].displayName, or the resource name in legacy mode).
	DisplayName string `json:"displayName"`

	// Type is the provider type: oidc, ldap, activedirectory or github.
	Type string `json:"type"`

	// Kind is the kind of the identity provider resource, such as OIDCIdentityProvider.
	Kind string `json:"kind"`

	// Name is the name of the identity provider resource.
	Name string `json:"name"`
}

// SupervisorSessionStatus describes the login. It never holds tokens, token hashes or
// data of the upstream identity provider.
type SupervisorSessionStatus struct {
	// Issuer is the issuer of the FederationDomain the user logged in to.
	Issuer string `json:"issuer"`

	// ClientID is the downstream client (pinniped-cli or an OIDCClient's name).
	ClientID string `json:"clientID"`

	// Username is the downstream username.
	Username string `json:"username"`

	// Groups are the downstream groups as of the last login or refresh.
	//
	// +listType=atomic
	// +optional
	Groups []string `json:"groups,omitempty"`

	// Subject is the downstream subject (the sub claim of the session's ID tokens).
	Subject string `json:"subject"`

	// IdentityProvider is the upstream identity provider the user logged in with.
	IdentityProvider SupervisorSessionIdentityProvider `json:"identityProvider"`

	// GrantedScopes are the scopes granted at login.
	//
	// +listType=atomic
	// +optional
	GrantedScopes []string `json:"grantedScopes,omitempty"`

	// AuthTime is when the user logged in (also the object's creationTimestamp).
	AuthTime metav1.Time `json:"authTime"`

	// Expires is when the session ends: its refresh tokens stop working then.
	Expires metav1.Time `json:"expires"`
}

// SupervisorSession is one downstream login to the supervisor, named by its session
// ID. Every field is read-only; deleting the session revokes it: its refresh tokens
// stop working and the upstream tokens are revoked (best effort). Tokens and
// certificates already issued from it live until they expire.
//
// +genclient
// +genclient:onlyVerbs=get,list,delete
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type SupervisorSession struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Status describes the login.
	//
	// +optional
	Status SupervisorSessionStatus `json:"status"`
}

// SupervisorSessionList is a list of SupervisorSessions.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type SupervisorSessionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the SupervisorSessions.
	Items []SupervisorSession `json:"items"`
}
