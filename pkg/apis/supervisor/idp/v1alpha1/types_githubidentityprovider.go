// SPDX-License-Identifier: Apache-2.0

package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// GitHubIdentityProviderPhase summarizes the state of a GitHubIdentityProvider.
//
// +kubebuilder:validation:Enum=Pending;Ready;Error
type GitHubIdentityProviderPhase string

const (
	// GitHubPhasePending is the phase of a GitHubIdentityProvider not yet checked.
	GitHubPhasePending GitHubIdentityProviderPhase = "Pending"
	// GitHubPhaseReady is the phase of a GitHubIdentityProvider whose conditions are all True.
	GitHubPhaseReady GitHubIdentityProviderPhase = "Ready"
	// GitHubPhaseError is the phase of a GitHubIdentityProvider with a False condition.
	GitHubPhaseError GitHubIdentityProviderPhase = "Error"
)

// GitHubUsernameAttribute selects the GitHub user attributes that form the username.
//
// +kubebuilder:validation:Enum=id;login;"login:id"
type GitHubUsernameAttribute string

const (
	// GitHubUsernameID uses the immutable numeric user ID.
	GitHubUsernameID GitHubUsernameAttribute = "id"
	// GitHubUsernameLogin uses the login name, which users can change.
	GitHubUsernameLogin GitHubUsernameAttribute = "login"
	// GitHubUsernameLoginAndID uses "<login>:<id>".
	GitHubUsernameLoginAndID GitHubUsernameAttribute = "login:id"
)

// GitHubGroupNameAttribute selects the GitHub team attribute that forms group names.
//
// +kubebuilder:validation:Enum=name;slug
type GitHubGroupNameAttribute string

const (
	// GitHubGroupNameName uses the team's display name.
	GitHubGroupNameName GitHubGroupNameAttribute = "name"
	// GitHubGroupNameSlug uses the team's slug.
	GitHubGroupNameSlug GitHubGroupNameAttribute = "slug"
)

// GitHubAllowedAuthOrganizationsPolicy selects which GitHub users may log in.
//
// +kubebuilder:validation:Enum=OnlyUsersFromAllowedOrganizations;AllGitHubUsers
type GitHubAllowedAuthOrganizationsPolicy string

const (
	// GitHubAllowedAuthOrganizationsPolicyOnlyUsersFromAllowedOrganizations admits
	// only members of the allowed organizations and keeps only their teams.
	GitHubAllowedAuthOrganizationsPolicyOnlyUsersFromAllowedOrganizations GitHubAllowedAuthOrganizationsPolicy = "OnlyUsersFromAllowedOrganizations"
	// GitHubAllowedAuthOrganizationsPolicyAllGitHubUsers admits every GitHub user.
	GitHubAllowedAuthOrganizationsPolicyAllGitHubUsers GitHubAllowedAuthOrganizationsPolicy = "AllGitHubUsers"
)

// GitHubDefaultHost is the default spec.githubAPI.host.
const GitHubDefaultHost = "github.com"

// GitHubIdentityProviderSpec configures GitHub (or GitHub Enterprise Server) as an
// upstream identity provider through a GitHub App or OAuth App. Only the
// browser_authcode flow is offered.
type GitHubIdentityProviderSpec struct {
	// GitHubAPI configures the GitHub API endpoint.
	//
	// +kubebuilder:default={}
	// +optional
	GitHubAPI GitHubAPIConfig `json:"githubAPI"`

	// Claims selects the attributes that form the username and group names.
	//
	// +kubebuilder:default={}
	// +optional
	Claims GitHubClaims `json:"claims"`

	// AllowAuthentication selects who may log in.
	AllowAuthentication GitHubAllowAuthenticationSpec `json:"allowAuthentication"`

	// Client names the Secret with the GitHub App or OAuth App credentials.
	Client GitHubClientSpec `json:"client"`
}

// GitHubAPIConfig configures the GitHub API endpoint.
type GitHubAPIConfig struct {
	// Host is the GitHub host. "github.com" and "api.github.com" use
	// https://api.github.com; any other host uses https://<host>/api/v3.
	//
	// +kubebuilder:default="github.com"
	// +kubebuilder:validation:MinLength=1
	// +optional
	Host string `json:"host,omitempty"`

	// TLS configures trust for the host.
	//
	// +optional
	TLS *TLSSpec `json:"tls,omitempty"`
}

// GitHubClaims selects the attributes that form the username and group names.
type GitHubClaims struct {
	// Username is id, login or login:id ("<login>:<id>", the default).
	//
	// +kubebuilder:default="login:id"
	// +optional
	Username GitHubUsernameAttribute `json:"username,omitempty"`

	// Groups is name or slug (the default); group names are "<org>/<team>".
	//
	// +kubebuilder:default=slug
	// +optional
	Groups GitHubGroupNameAttribute `json:"groups,omitempty"`
}

// GitHubAllowAuthenticationSpec selects who may log in.
type GitHubAllowAuthenticationSpec struct {
	// Organizations restricts logins by organization membership.
	Organizations GitHubOrganizationsSpec `json:"organizations"`
}

// GitHubOrganizationsSpec restricts logins by organization membership. Allowed
// must be non-empty if and only if Policy is OnlyUsersFromAllowedOrganizations.
//
// +kubebuilder:validation:XValidation:rule="(has(self.policy) && self.policy == 'AllGitHubUsers') || (has(self.allowed) && size(self.allowed) > 0)",message="allowed must list at least one organization when policy is OnlyUsersFromAllowedOrganizations"
// +kubebuilder:validation:XValidation:rule="!has(self.policy) || self.policy != 'AllGitHubUsers' || !has(self.allowed) || size(self.allowed) == 0",message="allowed must be empty when policy is AllGitHubUsers"
type GitHubOrganizationsSpec struct {
	// Policy is OnlyUsersFromAllowedOrganizations (the default) or AllGitHubUsers.
	//
	// +kubebuilder:default=OnlyUsersFromAllowedOrganizations
	// +optional
	Policy GitHubAllowedAuthOrganizationsPolicy `json:"policy,omitempty"`

	// Allowed are the organization logins whose members may log in; only their
	// teams become groups. The GitHub App or OAuth App must be allowed to see the
	// memberships.
	//
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +optional
	Allowed []string `json:"allowed,omitempty"`
}

// GitHubClientSpec names the Secret with the GitHub App or OAuth App credentials.
type GitHubClientSpec struct {
	// SecretName names a Secret in the same namespace of type
	// secrets.selkie.dev/github-client (or secrets.pinniped.dev/github-client) with
	// the keys clientID and clientSecret.
	//
	// +kubebuilder:validation:MinLength=1
	SecretName string `json:"secretName"`
}

// GitHubIdentityProviderStatus is the observed state of a GitHubIdentityProvider.
type GitHubIdentityProviderStatus struct {
	// Phase summarizes the conditions.
	//
	// +kubebuilder:default=Pending
	// +optional
	Phase GitHubIdentityProviderPhase `json:"phase,omitempty"`

	// Conditions are the observations of the identity provider's state.
	//
	// +patchMergeKey=type
	// +patchStrategy=merge
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// GitHubIdentityProvider is an upstream GitHub identity provider.
//
// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:resource:categories=selkie;selkie-idp;selkie-idps
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name=Host,type=string,JSONPath=`.spec.githubAPI.host`
// +kubebuilder:printcolumn:name=Status,type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name=Age,type=date,JSONPath=`.metadata.creationTimestamp`
type GitHubIdentityProvider struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired configuration.
	Spec GitHubIdentityProviderSpec `json:"spec"`

	// Status is the observed state.
	//
	// +optional
	Status GitHubIdentityProviderStatus `json:"status,omitempty"`
}

// GitHubIdentityProviderList is a list of GitHubIdentityProviders.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type GitHubIdentityProviderList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the GitHubIdentityProviders.
	Items []GitHubIdentityProvider `json:"items"`
}
