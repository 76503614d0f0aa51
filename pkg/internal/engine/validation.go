// SPDX-License-Identifier: Apache-2.0

package engine

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition reasons and messages shared by every Selkie API group (each API package
// declares the same strings; a unit test keeps them equal).
const (
	// ReasonSuccess marks a True condition.
	ReasonSuccess = "Success"
	// ReasonNotReady marks a False Ready condition.
	ReasonNotReady = "NotReady"
	// ReasonUnableToValidate marks a condition not checked because another failed.
	ReasonUnableToValidate = "UnableToValidate"
	// MessageUnableToValidate is the message of every condition with ReasonUnableToValidate.
	MessageUnableToValidate = "unable to validate; see other conditions for details"
	// ConditionReady is the condition summing up the others, for kinds that have one.
	ConditionReady = "Ready"
)

// Validation is the outcome of checking one resource: its conditions, whether it is
// usable, whether a failure may heal by itself, and what was built from it.
type Validation[V any] struct {
	// Conditions are the conditions to write, in order.
	Conditions []metav1.Condition
	// OK is true while every condition is True.
	OK bool
	// Retry is true when a failed check may pass later without any change to the
	// resource or to the objects it names (a network error, a server's answer).
	Retry bool

	built       V
	fingerprint string
	hasBuilt    bool
}

// NewValidation returns an empty, OK Validation.
func NewValidation[V any]() *Validation[V] { return &Validation[V]{OK: true} }

// Add adds a True condition when ok, else a False one that makes v not OK.
func (v *Validation[V]) Add(typ string, ok bool, reason, message string) {
	status := metav1.ConditionTrue
	if !ok {
		status = metav1.ConditionFalse
		v.OK = false
	}
	v.Conditions = append(v.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: message})
}

// Unknown adds an Unknown condition for a check that was not run because an earlier
// check failed, and makes v not OK.
func (v *Validation[V]) Unknown(typ string) {
	v.Conditions = append(v.Conditions, metav1.Condition{Type: typ, Status: metav1.ConditionUnknown,
		Reason: ReasonUnableToValidate, Message: MessageUnableToValidate})
	v.OK = false
}

// Build records value, newly built from the configuration with fingerprint, for the
// engine to store once the validation is OK (see Fingerprint).
func (v *Validation[V]) Build(value V, fingerprint string) {
	v.built, v.fingerprint, v.hasBuilt = value, fingerprint, true
}

// Failure is the outcome of a Check that did not pass.
type Failure struct {
	// Reason is the condition's reason.
	Reason string
	// Message is the condition's message; it must not contain secrets.
	Message string
	// Retry is true when a later attempt may pass without any change.
	Retry bool
}

// Check is one validation reported as one condition, for kinds whose checks run in a
// fixed order.
type Check struct {
	// Type is the condition type.
	Type string
	// Success is the message of the True condition when Run returns none, and when the
	// check is passed without running it.
	Success string
	// Independent checks run even after an earlier check failed.
	Independent bool
	// Run performs the check. It returns a nil Failure when the check passes,
	// optionally with a message replacing Success.
	Run func(ctx context.Context) (message string, failure *Failure)
}

// Run runs each check in order. A check that is not Independent and follows a failure
// is not run and is reported Unknown.
func (v *Validation[V]) Run(ctx context.Context, checks ...Check) {
	for _, c := range checks {
		if !v.OK && !c.Independent {
			v.Unknown(c.Type)
			continue
		}
		msg, f := c.Run(ctx)
		if f != nil {
			v.Retry = v.Retry || f.Retry
			v.Add(c.Type, false, f.Reason, f.Message)
			continue
		}
		if msg == "" {
			msg = c.Success
		}
		v.Add(c.Type, true, ReasonSuccess, msg)
	}
}

// Pass reports each check as True without running it, for checks already passed by
// the stored value of the same configuration.
func (v *Validation[V]) Pass(checks ...Check) {
	for _, c := range checks {
		v.Add(c.Type, true, ReasonSuccess, c.Success)
	}
}

// ready returns the Ready condition summing up v; message is its message when True.
func (v *Validation[V]) ready(message string) metav1.Condition {
	if !v.OK {
		return metav1.Condition{Type: ConditionReady, Status: metav1.ConditionFalse,
			Reason: ReasonNotReady, Message: MessageUnableToValidate}
	}
	return metav1.Condition{Type: ConditionReady, Status: metav1.ConditionTrue, Reason: ReasonSuccess, Message: message}
}
