// SPDX-License-Identifier: Apache-2.0

package sessionapi

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	sessionapis "github.com/selkie-dev/selkie/pkg/apis/supervisor/session"
	sessionv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/session/v1alpha1"
)

// Resource is the resource of SupervisorSessions.
const Resource = "supervisorsessions"

// AddToScheme registers SupervisorSession (internal and v1alpha1) under group, the
// session.supervisor.<suffix> of the install, with the field selectors its list
// accepts. Conversions and defaults are keyed by Go type, so the generated functions
// serve any suffix. The meta types every API server needs are the caller's to add
// (clientsecret.NewScheme does).
func AddToScheme(s *runtime.Scheme, group string) error {
	internal := schema.GroupVersion{Group: group, Version: runtime.APIVersionInternal}
	v1 := schema.GroupVersion{Group: group, Version: "v1alpha1"}
	s.AddKnownTypes(internal, &sessionapis.SupervisorSession{}, &sessionapis.SupervisorSessionList{})
	s.AddKnownTypes(v1, &sessionv1alpha1.SupervisorSession{}, &sessionv1alpha1.SupervisorSessionList{})
	metav1.AddToGroupVersion(s, v1)
	// Without a conversion function the API server accepts only metadata.name and
	// metadata.namespace; the storage checks the operators and values.
	if err := s.AddFieldLabelConversionFunc(v1.WithKind("SupervisorSession"), func(label, value string) (string, string, error) {
		switch label {
		case sessionv1alpha1.FieldSelectorUsername, sessionv1alpha1.FieldSelectorIssuer:
			return label, value, nil
		}
		return "", "", fmt.Errorf("field selector %q is not supported on SupervisorSessions: use %s or %s",
			label, sessionv1alpha1.FieldSelectorUsername, sessionv1alpha1.FieldSelectorIssuer)
	}); err != nil {
		return err
	}
	if err := sessionv1alpha1.RegisterConversions(s); err != nil {
		return err
	}
	if err := sessionv1alpha1.RegisterDefaults(s); err != nil {
		return err
	}
	return s.SetVersionPriority(v1)
}
