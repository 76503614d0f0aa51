// SPDX-License-Identifier: Apache-2.0

package v1alpha1

// CertificateAuthorityDataSourceKind names the kind of object that holds a CA bundle.
//
// +kubebuilder:validation:Enum=Secret;ConfigMap
type CertificateAuthorityDataSourceKind string

const (
	// CertificateAuthorityDataSourceKindSecret reads the CA bundle from a Secret of type
	// kubernetes.io/tls or Opaque.
	CertificateAuthorityDataSourceKindSecret CertificateAuthorityDataSourceKind = "Secret"

	// CertificateAuthorityDataSourceKindConfigMap reads the CA bundle from a ConfigMap.
	CertificateAuthorityDataSourceKindConfigMap CertificateAuthorityDataSourceKind = "ConfigMap"
)

// CertificateAuthorityDataSourceSpec names a key of a Secret or ConfigMap, in the
// supervisor's namespace, whose value is a non-empty PEM CA bundle. The value is
// reloaded when the object changes.
type CertificateAuthorityDataSourceSpec struct {
	// Kind is the kind of the object: Secret or ConfigMap.
	Kind CertificateAuthorityDataSourceKind `json:"kind"`

	// Name is the name of the object in the supervisor's namespace.
	//
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// Key is the key inside the object's data whose value is the PEM CA bundle.
	//
	// +kubebuilder:validation:MinLength=1
	Key string `json:"key"`
}

// TLSSpec configures how to trust the TLS server certificate of a remote endpoint.
// When neither field is set the system trust roots are used. Setting both is
// reported by the TLSConfigurationValid condition (the controller checks it, so that
// the object stays readable and the reason is visible in its status).
type TLSSpec struct {
	// CertificateAuthorityData is a base64-encoded PEM CA bundle.
	//
	// +optional
	CertificateAuthorityData string `json:"certificateAuthorityData,omitempty"`

	// CertificateAuthorityDataSource names a Secret or ConfigMap key holding the PEM CA bundle.
	//
	// +optional
	CertificateAuthorityDataSource *CertificateAuthorityDataSourceSpec `json:"certificateAuthorityDataSource,omitempty"`
}
