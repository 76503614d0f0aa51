// SPDX-License-Identifier: Apache-2.0

package checks_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator/internal/checks"
)

func pass(typ string) checks.Check {
	return checks.Check{Type: typ, Success: typ + " ok", Run: func(context.Context) (string, *checks.Failure) { return "", nil }}
}

func failing(typ string, retry, independent bool) checks.Check {
	return checks.Check{Type: typ, Independent: independent, Run: func(context.Context) (string, *checks.Failure) {
		return "", &checks.Failure{Reason: "Bad" + typ, Message: typ + " failed", Retry: retry}
	}}
}

func cond(typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg}
}

func TestList(t *testing.T) {
	t.Parallel()
	unknown := func(typ string) metav1.Condition {
		return cond(typ, metav1.ConditionUnknown, v1alpha1.ReasonUnableToValidate, v1alpha1.MessageUnableToValidate)
	}
	notReady := cond("Ready", metav1.ConditionFalse, v1alpha1.ReasonNotReady, v1alpha1.MessageUnableToValidate)
	tests := []struct {
		name      string
		checks    []checks.Check
		want      []metav1.Condition
		wantRetry bool
	}{
		{
			name:   "all pass",
			checks: []checks.Check{pass("A"), pass("B")},
			want: []metav1.Condition{
				cond("A", metav1.ConditionTrue, "Success", "A ok"), cond("B", metav1.ConditionTrue, "Success", "B ok"),
				cond("Ready", metav1.ConditionTrue, "Success", "ready!"),
			},
		},
		{
			name:   "a failure skips dependent checks but not independent ones",
			checks: []checks.Check{failing("A", false, true), pass("B"), failing("C", true, true)},
			want: []metav1.Condition{
				cond("A", metav1.ConditionFalse, "BadA", "A failed"), unknown("B"),
				cond("C", metav1.ConditionFalse, "BadC", "C failed"), notReady,
			},
			wantRetry: true,
		},
		{
			name: "run may replace the success message",
			checks: []checks.Check{{Type: "A", Success: "default", Run: func(context.Context) (string, *checks.Failure) {
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
			var l checks.List
			l.Run(context.Background(), tc.checks...)
			if diff := cmp.Diff(tc.want, l.Conditions("ready!")); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			if l.Retry() != tc.wantRetry {
				t.Errorf("Retry = %v, want %v", l.Retry(), tc.wantRetry)
			}
			if l.OK() != (tc.want[len(tc.want)-1].Status == metav1.ConditionTrue) {
				t.Errorf("OK = %v", l.OK())
			}
		})
	}
}

// TestApply checks that transition times move only when a status changes.
func TestApply(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Hour)
	var dst []metav1.Condition
	if !checks.Apply(&dst, []metav1.Condition{cond("A", metav1.ConditionTrue, "Success", "ok"), cond("B", metav1.ConditionTrue, "Success", "ok")}, 1, t0) {
		t.Error("first Apply reported no change")
	}
	if checks.Apply(&dst, []metav1.Condition{cond("A", metav1.ConditionTrue, "Success", "ok"), cond("B", metav1.ConditionTrue, "Success", "ok")}, 1, t1) {
		t.Error("identical Apply reported a change")
	}
	checks.Apply(&dst, []metav1.Condition{cond("A", metav1.ConditionTrue, "Success", "ok"), cond("B", metav1.ConditionFalse, "Bad", "no")}, 2, t1)
	want := []metav1.Condition{
		{Type: "A", Status: metav1.ConditionTrue, Reason: "Success", Message: "ok", ObservedGeneration: 2, LastTransitionTime: metav1.NewTime(t0)},
		{Type: "B", Status: metav1.ConditionFalse, Reason: "Bad", Message: "no", ObservedGeneration: 2, LastTransitionTime: metav1.NewTime(t1)},
	}
	if diff := cmp.Diff(want, dst, cmpopts.EquateApproxTime(0)); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	b := checks.NewBackoff()
	var retrying, fine checks.List
	retrying.Run(context.Background(), failing("A", true, false))
	fine.Run(context.Background(), pass("A"))
	first, second := b.After("x", &retrying), b.After("x", &retrying)
	if first <= 0 || second <= first {
		t.Errorf("delays %v then %v, want growing positive delays", first, second)
	}
	if got := b.After("x", &fine); got != 0 {
		t.Errorf("delay after success = %v, want 0", got)
	}
	if got := b.After("x", &retrying); got != first {
		t.Errorf("delay after reset = %v, want %v", got, first)
	}
}
