// SPDX-License-Identifier: Apache-2.0

package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ImpersonationProxyMode selects whether the impersonation proxy runs.
//
// +kubebuilder:validation:Enum=auto;enabled;disabled
type ImpersonationProxyMode string

const (
	// ImpersonationProxyModeAuto runs the proxy only when the cluster signing key is
	// unavailable to the concierge (for example on managed clusters). It is the
	// install default.
	ImpersonationProxyModeAuto ImpersonationProxyMode = "auto"
	// ImpersonationProxyModeEnabled always runs the proxy.
	ImpersonationProxyModeEnabled ImpersonationProxyMode = "enabled"
	// ImpersonationProxyModeDisabled never runs the proxy.
	ImpersonationProxyModeDisabled ImpersonationProxyMode = "disabled"
)

// ImpersonationProxyServiceType selects the Service that exposes the proxy.
//
// +kubebuilder:validation:Enum=LoadBalancer;ClusterIP;None
type ImpersonationProxyServiceType string

const (
	// ImpersonationProxyServiceTypeLoadBalancer exposes the proxy with a LoadBalancer Service.
	ImpersonationProxyServiceTypeLoadBalancer ImpersonationProxyServiceType = "LoadBalancer"
	// ImpersonationProxyServiceTypeClusterIP exposes the proxy with a ClusterIP Service.
	ImpersonationProxyServiceTypeClusterIP ImpersonationProxyServiceType = "ClusterIP"
	// ImpersonationProxyServiceTypeNone creates no Service; spec.impersonationProxy.externalEndpoint
	// must then say how clients reach the proxy.
	ImpersonationProxyServiceTypeNone ImpersonationProxyServiceType = "None"
)

// CredentialIssuerSpec configures the concierge.
type CredentialIssuerSpec struct {
	// ImpersonationProxy configures the impersonation proxy.
	ImpersonationProxy *ImpersonationProxySpec `json:"impersonationProxy"`
}

// ImpersonationProxySpec configures the impersonation proxy.
//
// +kubebuilder:validation:XValidation:rule="!has(self.service) || !has(self.service.type) || self.service.type != 'None' || (has(self.externalEndpoint) && size(self.externalEndpoint) > 0)",message="externalEndpoint must be set when service.type is None"
type ImpersonationProxySpec struct {
	// Mode selects whether the proxy runs: auto, enabled or disabled.
	Mode ImpersonationProxyMode `json:"mode"`

	// Service configures the Service that exposes the proxy.
	//
	// +kubebuilder:default:={"type": "LoadBalancer"}
	// +optional
	Service ImpersonationProxyServiceSpec `json:"service"`

	// ExternalEndpoint is the host[:port] at which clients reach the proxy. It is
	// required when service.type is None and otherwise overrides the Service address
	// advertised in status and used for the serving certificate.
	//
	// +optional
	ExternalEndpoint string `json:"externalEndpoint,omitempty"`

	// TLS configures the proxy's serving certificate. When unset the concierge
	// manages its own CA and certificate.
	//
	// +optional
	TLS *ImpersonationProxyTLSSpec `json:"tls,omitempty"`
}

// ImpersonationProxyServiceSpec configures the Service that exposes the proxy.
type ImpersonationProxyServiceSpec struct {
	// Type is the kind of Service: LoadBalancer, ClusterIP or None.
	//
	// +kubebuilder:default=LoadBalancer
	// +optional
	Type ImpersonationProxyServiceType `json:"type,omitempty"`

	// LoadBalancerIP is the IP address requested for a LoadBalancer Service.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="loadBalancerIP must be a valid IP address"
	// +optional
	LoadBalancerIP string `json:"loadBalancerIP,omitempty"`

	// Annotations are copied to the Service.
	//
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ImpersonationProxyTLSSpec configures the proxy's serving certificate.
type ImpersonationProxyTLSSpec struct {
	// CertificateAuthorityData is a base64-encoded PEM CA bundle advertised to
	// clients. When unset the ca.crt key of the Secret is advertised, if present.
	//
	// +optional
	CertificateAuthorityData string `json:"certificateAuthorityData,omitempty"`

	// SecretName names a kubernetes.io/tls Secret in the concierge's namespace that
	// holds the serving certificate and key.
	//
	// +optional
	SecretName string `json:"secretName,omitempty"`
}

// CredentialIssuer configures the concierge and reports, in status.strategies,
// how clients can obtain cluster credentials. There is one per install, created
// by the concierge.
//
// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
// +kubebuilder:resource:scope=Cluster,categories=selkie
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name=Proxy Mode,type=string,JSONPath=`.spec.impersonationProxy.mode`
// +kubebuilder:printcolumn:name=Default Strategy,type=string,JSONPath=`.status.strategies[?(@.status == "Success")].type`
// +kubebuilder:printcolumn:name=Age,type=date,JSONPath=`.metadata.creationTimestamp`
type CredentialIssuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired configuration.
	Spec CredentialIssuerSpec `json:"spec"`

	// Status reports the credential strategies.
	//
	// +optional
	Status CredentialIssuerStatus `json:"status"`
}

// CredentialIssuerList is a list of CredentialIssuers.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object
type CredentialIssuerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	// Items are the CredentialIssuers.
	Items []CredentialIssuer `json:"items"`
}
