// SPDX-License-Identifier: Apache-2.0

package engine

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// SetConditions merges conditions into dst, stamping each with generation and, when
// its status changes, with now as its last transition time (a condition whose status
// stays keeps its time). It reports whether dst changed.
func SetConditions(dst *[]metav1.Condition, conditions []metav1.Condition, generation int64, now time.Time) bool {
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

// WriteStatus writes updated's status (a changed deep copy of obj) unless status, which
// returns an object's status, finds it equal to obj's. It reports whether it wrote.
func WriteStatus[T client.Object](ctx context.Context, c client.Client, kind string, obj, updated T, status func(T) any) (bool, error) {
	if equality.Semantic.DeepEqual(status(obj), status(updated)) {
		return false, nil
	}
	if err := c.Status().Update(ctx, updated); err != nil {
		return false, fmt.Errorf("update status of %s %s: %w", kind, obj.GetName(), err)
	}
	return true, nil
}
