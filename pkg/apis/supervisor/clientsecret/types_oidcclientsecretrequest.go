// SPDX-License-Identifier: Apache-2.0

package clientsecret

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// OIDCClientSecretRequestSpec says what to do with the client's secrets.
type OIDCClientSecretRequestSpec struct {
	// GenerateNewSecret prepends a newly generated secret.
	GenerateNewSecret bool
	// RevokeOldSecrets keeps only the newest secret.
	RevokeOldSecrets bool
}

// OIDCClientSecretRequestStatus is the result.
type OIDCClientSecretRequestStatus struct {
	// GeneratedSecret is the new secret, shown only once.
	GeneratedSecret string
	// TotalClientSecrets is the number of stored secrets afterwards.
	TotalClientSecrets int32
}

// OIDCClientSecretRequest generates or revokes the client secrets of the
// OIDCClient with the same name and namespace.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type OIDCClientSecretRequest struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	// Spec is the request.
	Spec OIDCClientSecretRequestSpec
	// Status is the result.
	Status OIDCClientSecretRequestStatus
}

// OIDCClientSecretRequestList is a list of OIDCClientSecretRequests.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type OIDCClientSecretRequestList struct {
	metav1.TypeMeta
	metav1.ListMeta

	// Items are the OIDCClientSecretRequests.
	Items []OIDCClientSecretRequest
}
