// SPDX-License-Identifier: Apache-2.0

package login

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TokenCredentialRequestSpec is the input of a TokenCredentialRequest.
type TokenCredentialRequestSpec struct {
	// Token is the bearer token to validate.
	Token string

	// Authenticator selects the JWTAuthenticator or WebhookAuthenticator that
	// validates Token.
	Authenticator corev1.TypedLocalObjectReference
}

// TokenCredentialRequestStatus is the result of a TokenCredentialRequest.
type TokenCredentialRequestStatus struct {
	// Credential is set when the login succeeded.
	Credential *ClusterCredential

	// Message is set when the login failed.
	Message *string
}

// ClusterCredential is a credential for the cluster API server.
type ClusterCredential struct {
	// ExpirationTimestamp is when the credential expires.
	ExpirationTimestamp metav1.Time

	// Token is a bearer token; never set by Selkie.
	Token string

	// ClientCertificateData is the PEM client certificate.
	ClientCertificateData string

	// ClientKeyData is the PEM (PKCS#8) private key of the client certificate.
	ClientKeyData string
}

// TokenCredentialRequest exchanges a token for a cluster credential.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type TokenCredentialRequest struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	// Spec is the request.
	Spec TokenCredentialRequestSpec
	// Status is the result.
	Status TokenCredentialRequestStatus
}

// TokenCredentialRequestList is a list of TokenCredentialRequests.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type TokenCredentialRequestList struct {
	metav1.TypeMeta
	metav1.ListMeta

	// Items are the TokenCredentialRequests.
	Items []TokenCredentialRequest
}
