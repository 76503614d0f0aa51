// SPDX-License-Identifier: Apache-2.0

package engine

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
)

func pass(typ string) Check {
	return Check{Type: typ, Success: typ + " ok", Run: func(context.Context) (string, *Failure) { return "", nil }}
}

func failing(typ string, retry, independent bool) Check {
	return Check{Type: typ, Independent: independent, Run: func(context.Context) (string, *Failure) {
		return "", &Failure{Reason: "Bad" + typ, Message: typ + " failed", Retry: retry}
	}}
}

func cond(typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg}
}

func TestRun(t *testing.T) {
	t.Parallel()
	unknown := func(typ string) metav1.Condition {
		return cond(typ, metav1.ConditionUnknown, ReasonUnableToValidate, MessageUnableToValidate)
	}
	notReady := cond("Ready", metav1.ConditionFalse, ReasonNotReady, MessageUnableToValidate)
	tests := []struct {
		name      string
		checks    []Check
		want      []metav1.Condition
		wantRetry bool
	}{
		{
			name:   "all pass",
			checks: []Check{pass("A"), pass("B")},
			want: []metav1.Condition{
				cond("A", metav1.ConditionTrue, "Success", "A ok"), cond("B", metav1.ConditionTrue, "Success", "B ok"),
				cond("Ready", metav1.ConditionTrue, "Success", "ready!"),
			},
		},
		{
			name:   "a failure skips dependent checks but not independent ones",
			checks: []Check{failing("A", false, true), pass("B"), failing("C", true, true)},
			want: []metav1.Condition{
				cond("A", metav1.ConditionFalse, "BadA", "A failed"), unknown("B"),
				cond("C", metav1.ConditionFalse, "BadC", "C failed"), notReady,
			},
			wantRetry: true,
		},
		{
			name: "run may replace the success message",
			checks: []Check{{Type: "A", Success: "default", Run: func(context.Context) (string, *Failure) {
				return "custom", nil
			}}},
			want: []metav1.Condition{
				cond("A", metav1.ConditionTrue, "Success", "custom"), cond("Ready", metav1.ConditionTrue, "Success", "ready!"),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := NewValidation[string]()
			v.Run(context.Background(), tc.checks...)
			got := append(v.Conditions, v.ready("ready!"))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			if v.Retry != tc.wantRetry {
				t.Errorf("Retry = %v, want %v", v.Retry, tc.wantRetry)
			}
			if v.OK != (tc.want[len(tc.want)-1].Status == metav1.ConditionTrue) {
				t.Errorf("OK = %v", v.OK)
			}
		})
	}
}

func TestAddAndUnknown(t *testing.T) {
	t.Parallel()
	v := NewValidation[string]()
	v.Add("A", true, "Success", "fine")
	if !v.OK {
		t.Fatal("a True condition made the validation not OK")
	}
	v.Pass(pass("B"))
	v.Unknown("C")
	if v.OK {
		t.Error("an Unknown condition left the validation OK")
	}
	want := []metav1.Condition{
		cond("A", metav1.ConditionTrue, "Success", "fine"), cond("B", metav1.ConditionTrue, "Success", "B ok"),
		cond("C", metav1.ConditionUnknown, ReasonUnableToValidate, MessageUnableToValidate),
	}
	if diff := cmp.Diff(want, v.Conditions); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
}

// TestSetConditions checks that transition times move only when a status changes.
func TestSetConditions(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Hour)
	var dst []metav1.Condition
	if !SetConditions(&dst, []metav1.Condition{cond("A", metav1.ConditionTrue, "Success", "ok"), cond("B", metav1.ConditionTrue, "Success", "ok")}, 1, t0) {
		t.Error("first SetConditions reported no change")
	}
	if SetConditions(&dst, []metav1.Condition{cond("A", metav1.ConditionTrue, "Success", "ok"), cond("B", metav1.ConditionTrue, "Success", "ok")}, 1, t1) {
		t.Error("identical SetConditions reported a change")
	}
	SetConditions(&dst, []metav1.Condition{cond("A", metav1.ConditionTrue, "Success", "ok"), cond("B", metav1.ConditionFalse, "Bad", "no")}, 2, t1)
	want := []metav1.Condition{
		{Type: "A", Status: metav1.ConditionTrue, Reason: "Success", Message: "ok", ObservedGeneration: 2, LastTransitionTime: metav1.NewTime(t0)},
		{Type: "B", Status: metav1.ConditionFalse, Reason: "Bad", Message: "no", ObservedGeneration: 2, LastTransitionTime: metav1.NewTime(t1)},
	}
	if diff := cmp.Diff(want, dst, cmpopts.EquateApproxTime(0)); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
}

// TestReasonsMatchTheAPIs keeps the engine's shared reasons equal to those each API
// group declares.
func TestReasonsMatchTheAPIs(t *testing.T) {
	t.Parallel()
	for _, api := range []struct{ name, success, notReady, unable, unableMessage string }{
		{"concierge authentication", authenticationv1alpha1.ReasonSuccess, authenticationv1alpha1.ReasonNotReady,
			authenticationv1alpha1.ReasonUnableToValidate, authenticationv1alpha1.MessageUnableToValidate},
		{"supervisor config", configv1alpha1.ReasonSuccess, configv1alpha1.ReasonNotReady,
			configv1alpha1.ReasonUnableToValidate, configv1alpha1.MessageUnableToValidate},
		{"supervisor idp", idpv1alpha1.ReasonSuccess, idpv1alpha1.ReasonNotReady,
			idpv1alpha1.ReasonUnableToValidate, idpv1alpha1.MessageUnableToValidate},
	} {
		if api.success != ReasonSuccess || api.notReady != ReasonNotReady || api.unable != ReasonUnableToValidate ||
			api.unableMessage != MessageUnableToValidate {
			t.Errorf("the %s API declares other reasons than the engine", api.name)
		}
	}
	if authenticationv1alpha1.ConditionReady != ConditionReady {
		t.Errorf("Ready condition %q, want %q", authenticationv1alpha1.ConditionReady, ConditionReady)
	}
}
