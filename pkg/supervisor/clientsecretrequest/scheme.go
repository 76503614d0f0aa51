// SPDX-License-Identifier: Apache-2.0

package clientsecretrequest

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/selkie-dev/selkie/pkg/apis/supervisor/clientsecret"
	clientsecretv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/clientsecret/v1alpha1"
)

// Resource is the resource of OIDCClientSecretRequests.
const Resource = "oidcclientsecretrequests"

// NewScheme registers OIDCClientSecretRequest (internal and v1alpha1) under group, the
// clientsecret.supervisor.<suffix> of the install. Conversions and defaults are keyed by
// Go type, so the generated functions serve any suffix.
func NewScheme(group string) (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	internal := schema.GroupVersion{Group: group, Version: runtime.APIVersionInternal}
	v1 := schema.GroupVersion{Group: group, Version: "v1alpha1"}
	s.AddKnownTypes(internal, &clientsecret.OIDCClientSecretRequest{}, &clientsecret.OIDCClientSecretRequestList{})
	s.AddKnownTypes(v1, &clientsecretv1alpha1.OIDCClientSecretRequest{}, &clientsecretv1alpha1.OIDCClientSecretRequestList{})
	metav1.AddToGroupVersion(s, v1)
	// Types every API server needs for status, discovery and options.
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	s.AddUnversionedTypes(schema.GroupVersion{Version: "v1"},
		&metav1.Status{}, &metav1.APIVersions{}, &metav1.APIGroupList{}, &metav1.APIGroup{}, &metav1.APIResourceList{})
	if err := clientsecretv1alpha1.RegisterConversions(s); err != nil {
		return nil, err
	}
	if err := clientsecretv1alpha1.RegisterDefaults(s); err != nil {
		return nil, err
	}
	if err := s.SetVersionPriority(v1); err != nil {
		return nil, err
	}
	return s, nil
}
