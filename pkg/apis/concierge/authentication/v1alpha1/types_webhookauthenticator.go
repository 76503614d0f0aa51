// SPDX-License-Identifier: Apache-2.0

package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// WebhookAuthenticatorPhase summarizes the state of a WebhookAuthenticator.
//
// +kubebuilder:validation:Enum=Pending;Ready;Error
type WebhookAuthenticatorPhase string

const (
	// WebhookAuthenticatorPhasePending is the phase of a WebhookAuthenticator not yet checked.
	WebhookAuthenticatorPhasePending WebhookAuthenticatorPhase = "Pending"
	// WebhookAuthenticatorPhaseReady is the phase of a WebhookAuthenticator whose conditions are all True.
	WebhookAuthenticatorPhaseReady WebhookAuthenticatorPhase = "Ready"
	// WebhookAuthenticatorPhaseError is the phase of a WebhookAuthenticator with a False condition.
	WebhookAuthenticatorPhaseError WebhookAuthenticatorPhase = "Error"
)

// WebhookAuthenticatorSpec configures the token review webhook.
type WebhookAuthenticatorSpec struct {
	// Endpoint is the https URL to which the concierge POSTs an
	// authentication.k8s.io/v1beta1 TokenReview.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:Pattern=`^https://`
	Endpoint string `json:"endpoint"`

	// TLS configures trust for the endpoint.
	//
	// +optional
	TLS *TLSSpec `json:"tls,omitempty"`
}

// WebhookAuthenticatorStatus is the observed state of a WebhookAuthenticator.
type WebhookAuthenticatorStatus struct {
	// Phase summarizes the conditions.
	//
	// +kubebuilder:default=Pending
	// +optional
	Phase WebhookAuthenticatorPhase `json:"phase,omitempty"`

	// Conditions are the observations of the authenticator's state.
	//
	// +patchMergeKey=type
	// +patchStrategy=merge
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`
}

// WebhookAuthenticator makes the concierge accept tokens that a TokenReview webhook
// approves, in TokenCredentialRequests.
//
// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:resource:scope=Cluster,categories=selkie;selkie-authenticator;selkie-authenticators
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name=Endpoint,type=string,JSONPath=`.spec.endpoint`
// +kubebuilder:printcolumn:name=Status,type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name=Age,type=date,JSONPath=`.metadata.creationTimestamp`
type WebhookAuthenticator struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired configuration.
	Spec WebhookAuthenticatorSpec `json:"spec"`

	// Status is the observed state.
	//
	// +optional
	Status WebhookAuthenticatorStatus `json:"status,omitempty"`
}

// WebhookAuthenticatorList is a list of WebhookAuthenticators.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type WebhookAuthenticatorList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the WebhookAuthenticators.
	Items []WebhookAuthenticator `json:"items"`
}
