// SPDX-License-Identifier: Apache-2.0

package identity

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
	KubernetesUserInfo KubernetesUserInfo
}

// KubernetesUserInfo is a Kubernetes user and the audiences of its credential.
type KubernetesUserInfo struct {
	// User is the authenticated user.
	User UserInfo
	// Audiences are the audiences of the credential, if any.
	Audiences []string
}

// UserInfo is an authenticated Kubernetes user.
type UserInfo struct {
	// Username is the user's name.
	Username string
	// UID is the user's unique ID, if any.
	UID string
	// Groups are the user's groups.
	Groups []string
	// Extra holds additional information provided by the authenticator.
	Extra map[string]ExtraValue
}

// ExtraValue holds the values of one user extra key.
type ExtraValue []string

// String formats the values like a string slice.
func (t ExtraValue) String() string {
	return fmt.Sprintf("%v", []string(t))
}

// WhoAmIRequest echoes the caller's identity.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type WhoAmIRequest struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	// Spec is the (empty) request.
	Spec WhoAmIRequestSpec
	// Status is the result.
	Status WhoAmIRequestStatus
}

// WhoAmIRequestList is a list of WhoAmIRequests.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type WhoAmIRequestList struct {
	metav1.TypeMeta
	metav1.ListMeta

	// Items are the WhoAmIRequests.
	Items []WhoAmIRequest
}
