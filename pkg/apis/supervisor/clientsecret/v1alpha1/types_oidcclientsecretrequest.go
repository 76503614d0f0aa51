// SPDX-License-Identifier: Apache-2.0

package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// MaxClientSecrets is the largest number of secrets an OIDCClient may hold;
// generating one more requires RevokeOldSecrets.
const MaxClientSecrets = 5

// OIDCClientSecretRequestSpec says what to do with the client's secrets.
type OIDCClientSecretRequestSpec struct {
	// GenerateNewSecret prepends a newly generated secret (32 random bytes as 64
	// lowercase hex characters, stored as a bcrypt hash).
	//
	// +optional
	GenerateNewSecret bool `json:"generateNewSecret"`

	// RevokeOldSecrets keeps only the newest secret.
	//
	// +optional
	RevokeOldSecrets bool `json:"revokeOldSecrets"`
}

// OIDCClientSecretRequestStatus is the result.
type OIDCClientSecretRequestStatus struct {
	// GeneratedSecret is the new secret, shown only in this response.
	//
	// +optional
	GeneratedSecret string `json:"generatedSecret,omitempty"`

	// TotalClientSecrets is the number of stored secrets afterwards.
	TotalClientSecrets int32 `json:"totalClientSecrets"`
}

// OIDCClientSecretRequest generates or revokes the client secrets of the
// OIDCClient with the same name, in the supervisor's namespace.
//
// +genclient
// +genclient:onlyVerbs=create
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type OIDCClientSecretRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the request.
	Spec OIDCClientSecretRequestSpec `json:"spec"`

	// Status is the result. Requests need not carry it (kubectl create -f validates
	// against the OpenAPI schema); responses always do.
	//
	// +optional
	Status OIDCClientSecretRequestStatus `json:"status"`
}

// OIDCClientSecretRequestList is a list of OIDCClientSecretRequests.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type OIDCClientSecretRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the OIDCClientSecretRequests.
	Items []OIDCClientSecretRequest `json:"items"`
}
