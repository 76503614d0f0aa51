// SPDX-License-Identifier: Apache-2.0

package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// StrategyType names a way in which the concierge can issue cluster credentials.
//
// +kubebuilder:validation:Enum=KubeClusterSigningCertificate;KubeCSRSigningCertificate;ImpersonationProxy
type StrategyType string

const (
	// KubeClusterSigningCertificateStrategyType signs client certificates with the
	// cluster's signing key, read from the control plane.
	KubeClusterSigningCertificateStrategyType StrategyType = "KubeClusterSigningCertificate"
	// KubeCSRSigningCertificateStrategyType has the cluster sign client certificates
	// through certificates.k8s.io/v1 CSRs (Selkie extension; sorted between the two
	// reference strategies).
	KubeCSRSigningCertificateStrategyType StrategyType = "KubeCSRSigningCertificate"
	// ImpersonationProxyStrategyType serves an impersonating proxy in front of the
	// API server.
	ImpersonationProxyStrategyType StrategyType = "ImpersonationProxy"
)

// StrategyStatus says whether a strategy is usable.
//
// +kubebuilder:validation:Enum=Success;Error
type StrategyStatus string

const (
	// SuccessStrategyStatus marks a usable strategy.
	SuccessStrategyStatus StrategyStatus = "Success"
	// ErrorStrategyStatus marks an unusable strategy.
	ErrorStrategyStatus StrategyStatus = "Error"
)

// StrategyReason explains a strategy's status.
//
// +kubebuilder:validation:Enum=Listening;Pending;Disabled;ErrorDuringSetup;CouldNotFetchKey;CouldNotGetClusterInfo;FetchedKey;CSRSignerAvailable
type StrategyReason string

const (
	// ListeningStrategyReason means the impersonation proxy accepts connections.
	ListeningStrategyReason StrategyReason = "Listening"
	// PendingStrategyReason means a transient state that clients wait on, such as a
	// LoadBalancer without an address. It must not be used for permanent errors.
	PendingStrategyReason StrategyReason = "Pending"
	// DisabledStrategyReason means the impersonation proxy is disabled.
	DisabledStrategyReason StrategyReason = "Disabled"
	// ErrorDuringSetupStrategyReason means the impersonation proxy could not be set up.
	ErrorDuringSetupStrategyReason StrategyReason = "ErrorDuringSetup"
	// CouldNotFetchKeyStrategyReason means the cluster signing key could not be read.
	CouldNotFetchKeyStrategyReason StrategyReason = "CouldNotFetchKey"
	// CouldNotGetClusterInfoStrategyReason means the cluster-info ConfigMap could not be read.
	CouldNotGetClusterInfoStrategyReason StrategyReason = "CouldNotGetClusterInfo"
	// FetchedKeyStrategyReason means the cluster signing key was read.
	FetchedKeyStrategyReason StrategyReason = "FetchedKey"
	// CSRSignerAvailableStrategyReason means the cluster's CSR signer can issue client
	// certificates (Selkie extension).
	CSRSignerAvailableStrategyReason StrategyReason = "CSRSignerAvailable"
)

// FrontendType names how clients reach a strategy.
//
// +kubebuilder:validation:Enum=TokenCredentialRequestAPI;ImpersonationProxy
type FrontendType string

const (
	// TokenCredentialRequestAPIFrontendType means clients create TokenCredentialRequests.
	TokenCredentialRequestAPIFrontendType FrontendType = "TokenCredentialRequestAPI"
	// ImpersonationProxyFrontendType means clients talk to the impersonation proxy.
	ImpersonationProxyFrontendType FrontendType = "ImpersonationProxy"
)

// Messages written by the concierge for well-known strategy states.
const (
	// FetchedKeyStrategyMessage is the message of a successful KubeClusterSigningCertificate strategy.
	FetchedKeyStrategyMessage = "key was fetched successfully"
	// ListeningStrategyMessage is the message of a listening impersonation proxy.
	ListeningStrategyMessage = "impersonation proxy is ready to accept client connections"
	// PendingLoadBalancerStrategyMessage is the message while a LoadBalancer has no address.
	PendingLoadBalancerStrategyMessage = "waiting for load balancer Service to be assigned IP or hostname"
	// DisabledByConfigurationStrategyMessage is the message of an explicitly disabled proxy.
	DisabledByConfigurationStrategyMessage = "impersonation proxy was explicitly disabled by configuration"
	// DisabledAutomaticallyStrategyMessage is the message of a proxy disabled in auto mode.
	DisabledAutomaticallyStrategyMessage = "automatically determined that impersonation proxy should be disabled"
)

// CredentialIssuerStatus reports the credential strategies.
type CredentialIssuerStatus struct {
	// Strategies lists every strategy the concierge tried, sorted
	// KubeClusterSigningCertificate, KubeCSRSigningCertificate, ImpersonationProxy,
	// then any other type by name.
	Strategies []CredentialIssuerStrategy `json:"strategies"`
}

// CredentialIssuerStrategy is the state of one strategy.
type CredentialIssuerStrategy struct {
	// Type is the strategy.
	Type StrategyType `json:"type"`

	// Status says whether the strategy is usable.
	Status StrategyStatus `json:"status"`

	// Reason explains Status.
	Reason StrategyReason `json:"reason"`

	// Message is a human-readable description of Status.
	//
	// +kubebuilder:validation:MinLength=1
	Message string `json:"message"`

	// LastUpdateTime is when the strategy was last checked.
	LastUpdateTime metav1.Time `json:"lastUpdateTime"`

	// Frontend says how clients use the strategy; set only when Status is Success.
	//
	// +optional
	Frontend *CredentialIssuerFrontend `json:"frontend,omitempty"`
}

// CredentialIssuerFrontend says how clients use a strategy.
type CredentialIssuerFrontend struct {
	// Type is the kind of frontend; it selects which of the other fields is set.
	Type FrontendType `json:"type"`

	// TokenCredentialRequestInfo is set when Type is TokenCredentialRequestAPI.
	//
	// +optional
	TokenCredentialRequestInfo *TokenCredentialRequestAPIInfo `json:"tokenCredentialRequestInfo,omitempty"`

	// ImpersonationProxyInfo is set when Type is ImpersonationProxy.
	//
	// +optional
	ImpersonationProxyInfo *ImpersonationProxyInfo `json:"impersonationProxyInfo,omitempty"`
}

// TokenCredentialRequestAPIInfo says where to send TokenCredentialRequests.
type TokenCredentialRequestAPIInfo struct {
	// Server is the Kubernetes API server URL.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:Pattern=`^https?://`
	Server string `json:"server"`

	// CertificateAuthorityData is the base64-encoded PEM CA bundle of Server.
	//
	// +kubebuilder:validation:MinLength=1
	CertificateAuthorityData string `json:"certificateAuthorityData"`
}

// ImpersonationProxyInfo says where the impersonation proxy listens.
type ImpersonationProxyInfo struct {
	// Endpoint is the proxy's https URL.
	//
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:Pattern=`^https://`
	Endpoint string `json:"endpoint"`

	// CertificateAuthorityData is the base64-encoded PEM CA bundle of Endpoint.
	//
	// +kubebuilder:validation:MinLength=1
	CertificateAuthorityData string `json:"certificateAuthorityData"`
}
