// SPDX-License-Identifier: Apache-2.0

package v1alpha1

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WhoAmIRequestSpec is empty: the request carries no input.
type WhoAmIRequestSpec struct{}

// WhoAmIRequestStatus is the caller's identity.
type WhoAmIRequestStatus struct {
	// KubernetesUserInfo is the caller's identity as the serving API server
	// authenticated it.
	KubernetesUserInfo KubernetesUserInfo `json:"kubernetesUserInfo"`
}

// KubernetesUserInfo is a Kubernetes user and the audiences of its credential.
type KubernetesUserInfo struct {
	// User is the authenticated user.
	User UserInfo `json:"user"`

	// Audiences are the audiences of the credential, if any.
	//
	// +listType=atomic
	// +optional
	Audiences []string `json:"audiences,omitempty"`
}

// UserInfo is an authenticated Kubernetes user.
type UserInfo struct {
	// Username is the user's name.
	Username string `json:"username"`

	// UID is the user's unique ID, if any.
	//
	// +optional
	UID string `json:"uid,omitempty"`

	// Groups are the user's groups.
	//
	// +listType=atomic
	// +optional
	Groups []string `json:"groups,omitempty"`

	// Extra holds additional information provided by the authenticator.
	//
	// +optional
	Extra map[string]ExtraValue `json:"extra,omitempty"`
}

// ExtraValue holds the values of one user extra key.
type ExtraValue []string

// String formats the values like a string slice.
func (t ExtraValue) String() string {
	return fmt.Sprintf("%v", []string(t))
}

// WhoAmIRequest echoes the caller's identity exactly as the serving API server
// authenticated it.
//
// +genclient
// +genclient:nonNamespaced
// +genclient:onlyVerbs=create
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type WhoAmIRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the (empty) request.
	Spec WhoAmIRequestSpec `json:"spec,omitempty"`

	// Status is the result.
	Status WhoAmIRequestStatus `json:"status,omitempty"`
}

// WhoAmIRequestList is a list of WhoAmIRequests; the server always returns it empty.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type WhoAmIRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the WhoAmIRequests.
	Items []WhoAmIRequest `json:"items"`
}
