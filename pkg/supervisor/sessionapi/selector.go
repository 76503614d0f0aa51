// SPDX-License-Identifier: Apache-2.0

package sessionapi

import (
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	"k8s.io/apimachinery/pkg/selection"

	sessionv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/session/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
)

// listOptions maps the field selectors status.username=<u> and status.issuer=<i> to
// the store's filters. Label selectors, other fields, other operators, empty values
// and two different values for one field are a 400: the store could not honour them,
// and answering with more sessions than asked for would mislead an administrator.
func listOptions(options *metainternalversion.ListOptions) (sessionstore.ListOptions, error) {
	var out sessionstore.ListOptions
	if options == nil {
		return out, nil
	}
	if options.LabelSelector != nil && !options.LabelSelector.Empty() {
		return out, apierrors.NewBadRequest("label selectors are not supported on SupervisorSessions")
	}
	if options.FieldSelector == nil {
		return out, nil
	}
	for _, req := range options.FieldSelector.Requirements() {
		var target *string
		switch req.Field {
		case sessionv1alpha1.FieldSelectorUsername:
			target = &out.Username
		case sessionv1alpha1.FieldSelectorIssuer:
			target = &out.Issuer
		default:
			return out, apierrors.NewBadRequest(fmt.Sprintf("field selector %q is not supported on SupervisorSessions: use %s or %s",
				req.Field, sessionv1alpha1.FieldSelectorUsername, sessionv1alpha1.FieldSelectorIssuer))
		}
		switch {
		case req.Operator != selection.Equals && req.Operator != selection.DoubleEquals:
			return out, apierrors.NewBadRequest(fmt.Sprintf("field selector %s supports only = and ==, not %s", req.Field, req.Operator))
		case req.Value == "":
			return out, apierrors.NewBadRequest(fmt.Sprintf("field selector %s needs a value", req.Field))
		case *target != "" && *target != req.Value:
			return out, apierrors.NewBadRequest(fmt.Sprintf("field selector %s is given two different values", req.Field))
		}
		*target = req.Value
	}
	return out, nil
}
