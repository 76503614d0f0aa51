// SPDX-License-Identifier: Apache-2.0

package tlsconfig

import (
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
)

// Kinds of object a Source may name.
const (
	// KindSecret names a Secret of type kubernetes.io/tls or Opaque.
	KindSecret = "Secret"
	// KindConfigMap names a ConfigMap.
	KindConfigMap = "ConfigMap"
)

// Spec is the kind-neutral form of a TLSSpec.
type Spec struct {
	// CertificateAuthorityData is a base64-encoded PEM CA bundle.
	CertificateAuthorityData string
	// Source names a Secret or ConfigMap key holding a PEM CA bundle.
	Source *Source
}

// Source names a key of a Secret or ConfigMap in the server's namespace.
type Source struct {
	// Kind is KindSecret or KindConfigMap.
	Kind string
	// Name is the object's name.
	Name string
	// Key is the key inside the object's data.
	Key string
}

// FromConcierge converts a concierge TLSSpec; nil means the system roots.
func FromConcierge(s *authenticationv1alpha1.TLSSpec) Spec {
	if s == nil {
		return Spec{}
	}
	out := Spec{CertificateAuthorityData: s.CertificateAuthorityData}
	if src := s.CertificateAuthorityDataSource; src != nil {
		out.Source = &Source{Kind: string(src.Kind), Name: src.Name, Key: src.Key}
	}
	return out
}

// Refers reports whether s reads its CA bundle from obj, a Secret or ConfigMap,
// given that sources are looked up in namespace.
func (s Spec) Refers(obj client.Object, namespace string) bool {
	if s.Source == nil || obj.GetNamespace() != namespace || obj.GetName() != s.Source.Name {
		return false
	}
	switch obj.(type) {
	case *corev1.Secret:
		return s.Source.Kind == KindSecret
	case *corev1.ConfigMap:
		return s.Source.Kind == KindConfigMap
	default:
		return false
	}
}
