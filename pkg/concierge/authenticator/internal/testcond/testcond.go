// SPDX-License-Identifier: Apache-2.0

package testcond

import (
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
)

// True returns a passed condition of type typ.
func True(typ string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: metav1.ConditionTrue, Reason: authenticationv1alpha1.ReasonSuccess}
}

// False returns a failed condition of type typ with reason.
func False(typ, reason string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: metav1.ConditionFalse, Reason: reason}
}

// Unknown returns a condition of type typ that could not be validated.
func Unknown(typ string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: metav1.ConditionUnknown, Reason: authenticationv1alpha1.ReasonUnableToValidate}
}

// Want returns True conditions of types followed by a True Ready condition,
// with the conditions in replace substituted for those of the same type; Ready
// is False with reason NotReady when replace is not empty.
func Want(types []string, replace ...metav1.Condition) []metav1.Condition {
	out := make([]metav1.Condition, 0, len(types)+1)
	for _, typ := range types {
		out = append(out, True(typ))
	}
	for _, c := range replace {
		for i := range out {
			if out[i].Type == c.Type {
				out[i] = c
			}
		}
	}
	if len(replace) > 0 {
		return append(out, False(authenticationv1alpha1.ConditionReady, authenticationv1alpha1.ReasonNotReady))
	}
	return append(out, True(authenticationv1alpha1.ConditionReady))
}

// Diff compares conditions by type, status and reason, in any order; messages,
// generations and times are checked separately.
func Diff(want, got []metav1.Condition) string {
	return cmp.Diff(want, got,
		cmpopts.IgnoreFields(metav1.Condition{}, "LastTransitionTime", "Message", "ObservedGeneration"),
		cmpopts.SortSlices(func(a, b metav1.Condition) bool { return a.Type < b.Type }))
}

// Message returns the message of the condition of type typ in conds.
func Message(conds []metav1.Condition, typ string) string {
	for _, c := range conds {
		if c.Type == typ {
			return c.Message
		}
	}
	return ""
}

// FirstFalseMessage returns the message in got of the first condition that
// want expects to be False.
func FirstFalseMessage(got, want []metav1.Condition) string {
	for _, w := range want {
		if w.Status == metav1.ConditionFalse {
			return Message(got, w.Type)
		}
	}
	return ""
}

// Ready reports whether want expects the Ready condition to be True.
func Ready(want []metav1.Condition) bool {
	for _, c := range want {
		if c.Type == authenticationv1alpha1.ConditionReady {
			return c.Status == metav1.ConditionTrue
		}
	}
	return false
}
