// SPDX-License-Identifier: Apache-2.0

package session

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// SupervisorSessionIdentityProvider names the upstream identity provider of a session.
type SupervisorSessionIdentityProvider struct {
	// DisplayName is the provider's name in the FederationDomain.
	DisplayName string
	// Type is the provider type (oidc, ldap, activedirectory, github).
	Type string
	// Kind and Name identify the identity provider resource.
	Kind string
	Name string
}

// SupervisorSessionStatus describes the login. It holds no tokens, token hashes or
// upstream data.
type SupervisorSessionStatus struct {
	// Issuer is the FederationDomain's issuer; ClientID the downstream client.
	Issuer   string
	ClientID string
	// Username, Groups and Subject are the downstream identity.
	Username string
	Groups   []string
	Subject  string
	// IdentityProvider is the upstream the user logged in with.
	IdentityProvider SupervisorSessionIdentityProvider
	// GrantedScopes are the scopes granted at login.
	GrantedScopes []string
	// AuthTime is when the user logged in; Expires when the session ends.
	AuthTime metav1.Time
	Expires  metav1.Time
}

// SupervisorSession is one downstream login, named by its session ID.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type SupervisorSession struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	// Status describes the login.
	Status SupervisorSessionStatus
}

// SupervisorSessionList is a list of SupervisorSessions.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type SupervisorSessionList struct {
	metav1.TypeMeta
	metav1.ListMeta

	// Items are the SupervisorSessions.
	Items []SupervisorSession
}
