// SPDX-License-Identifier: Apache-2.0

package checks

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
)

// Failure is the outcome of a check that did not pass.
type Failure struct {
	// Reason is the condition's reason.
	Reason string
	// Message is the condition's message; it must not contain secrets.
	Message string
	// Retry is true when a later attempt may pass without any change to the
	// resource or the objects it refers to (for example a network error).
	Retry bool
}

// Check is one validation reported as one condition.
type Check struct {
	// Type is the condition type.
	Type string
	// Success is the message of the True condition when Run returns none, and
	// when the check is passed without running it.
	Success string
	// Independent checks run even after an earlier check failed.
	Independent bool
	// Run performs the check. It returns a nil Failure when the check passes,
	// optionally with a message replacing Success.
	Run func(ctx context.Context) (message string, failure *Failure)
}

// List accumulates the conditions of one reconciliation.
type List struct {
	conditions []metav1.Condition
	failed     bool
	retry      bool
}

// Run runs each check in order. A check that is not Independent and follows a
// failure is not run and is reported Unknown with reason UnableToValidate.
func (l *List) Run(ctx context.Context, checks ...Check) {
	for _, c := range checks {
		if l.failed && !c.Independent {
			l.add(c.Type, metav1.ConditionUnknown, authenticationv1alpha1.ReasonUnableToValidate,
				authenticationv1alpha1.MessageUnableToValidate)
			continue
		}
		msg, f := c.Run(ctx)
		if f != nil {
			l.failed = true
			l.retry = l.retry || f.Retry
			l.add(c.Type, metav1.ConditionFalse, f.Reason, f.Message)
			continue
		}
		if msg == "" {
			msg = c.Success
		}
		l.add(c.Type, metav1.ConditionTrue, authenticationv1alpha1.ReasonSuccess, msg)
	}
}

// Pass reports each check as True without running it; controllers use it for
// checks already passed by the cached authenticator of the same configuration.
func (l *List) Pass(checks ...Check) {
	for _, c := range checks {
		l.add(c.Type, metav1.ConditionTrue, authenticationv1alpha1.ReasonSuccess, c.Success)
	}
}

// OK reports whether every check so far passed.
func (l *List) OK() bool { return !l.failed }

// Retry reports whether a failed check asked to be retried.
func (l *List) Retry() bool { return l.retry }

// Conditions returns the conditions so far followed by the Ready condition;
// readyMessage is its message when it is True.
func (l *List) Conditions(readyMessage string) []metav1.Condition {
	out := append([]metav1.Condition(nil), l.conditions...)
	ready := metav1.Condition{
		Type:    authenticationv1alpha1.ConditionReady,
		Status:  metav1.ConditionTrue,
		Reason:  authenticationv1alpha1.ReasonSuccess,
		Message: readyMessage,
	}
	if l.failed {
		ready.Status = metav1.ConditionFalse
		ready.Reason = authenticationv1alpha1.ReasonNotReady
		ready.Message = authenticationv1alpha1.MessageUnableToValidate
	}
	return append(out, ready)
}

func (l *List) add(typ string, status metav1.ConditionStatus, reason, message string) {
	l.conditions = append(l.conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: message})
}

// Apply merges conditions into dst, stamping each with generation and, when
// its status changes, with now as its last transition time. It reports whether
// dst changed.
func Apply(dst *[]metav1.Condition, conditions []metav1.Condition, generation int64, now time.Time) bool {
	changed := false
	for _, c := range conditions {
		c.ObservedGeneration = generation
		c.LastTransitionTime = metav1.NewTime(now)
		if meta.SetStatusCondition(dst, c) {
			changed = true
		}
	}
	return changed
}
