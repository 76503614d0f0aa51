// SPDX-License-Identifier: Apache-2.0

package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TokenCredentialRequestSpec is the input of a TokenCredentialRequest.
type TokenCredentialRequestSpec struct {
	// Token is the bearer token to validate.
	//
	// +optional
	Token string `json:"token,omitempty"`

	// Authenticator selects the JWTAuthenticator or WebhookAuthenticator that
	// validates Token, by exact apiGroup, kind and name. Its keys are always
	// serialized (apiGroup as null when unset), as the reference clients expect.
	Authenticator corev1.TypedLocalObjectReference `json:"authenticator"`
}

// TokenCredentialRequestStatus is the result of a TokenCredentialRequest. A nil
// Credential or a non-nil Message is a failed login.
type TokenCredentialRequestStatus struct {
	// Credential is set when the login succeeded.
	//
	// +optional
	Credential *ClusterCredential `json:"credential,omitempty"`

	// Message is set when the login failed; it is always "authentication failed".
	//
	// +optional
	Message *string `json:"message,omitempty"`
}

// ClusterCredential is a credential for the cluster API server.
type ClusterCredential struct {
	// ExpirationTimestamp is when the credential expires (the certificate's NotAfter).
	ExpirationTimestamp metav1.Time `json:"expirationTimestamp,omitempty"`

	// Token is a bearer token; never set by Selkie.
	//
	// +optional
	Token string `json:"token,omitempty"`

	// ClientCertificateData is the PEM client certificate.
	//
	// +optional
	ClientCertificateData string `json:"clientCertificateData,omitempty"`

	// ClientKeyData is the PEM (PKCS#8) private key of the client certificate.
	//
	// +optional
	ClientKeyData string `json:"clientKeyData,omitempty"`
}

// TokenCredentialRequest exchanges a token accepted by a JWTAuthenticator or
// WebhookAuthenticator for a short-lived cluster credential. Every failure is
// reported with status 201 and status.message "authentication failed".
//
// +genclient
// +genclient:nonNamespaced
// +genclient:onlyVerbs=create
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type TokenCredentialRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the request.
	Spec TokenCredentialRequestSpec `json:"spec,omitempty"`

	// Status is the result.
	Status TokenCredentialRequestStatus `json:"status,omitempty"`
}

// TokenCredentialRequestList is a list of TokenCredentialRequests; the server
// always returns it empty.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type TokenCredentialRequestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the TokenCredentialRequests.
	Items []TokenCredentialRequest `json:"items"`
}
