// SPDX-License-Identifier: Apache-2.0

package engine

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Objects makes and lists the objects of a kind.
type Objects[T client.Object] struct {
	// New returns an empty object of the kind.
	New func() T
	// List returns every object of the kind, in namespace unless it is "".
	List func(ctx context.Context, c client.Client, namespace string) ([]T, error)
}

// ObjectsOf returns the Objects of the kind whose list type L holds items of type E.
func ObjectsOf[E any, L any, PE interface {
	*E
	client.Object
}, PL interface {
	*L
	client.ObjectList
}](items func(*L) []E) Objects[PE] {
	return Objects[PE]{
		New: func() PE { return PE(new(E)) },
		List: func(ctx context.Context, c client.Client, namespace string) ([]PE, error) {
			list := PL(new(L))
			var opts []client.ListOption
			if namespace != "" {
				opts = append(opts, client.InNamespace(namespace))
			}
			if err := c.List(ctx, list, opts...); err != nil {
				return nil, err
			}
			all := items((*L)(list))
			out := make([]PE, len(all))
			for i := range all {
				out[i] = PE(&all[i])
			}
			return out, nil
		},
	}
}

// Phase returns a Kind.SetStatus for a status with a phase and conditions: phase is set
// to ready or failed, and the conditions are returned to update in place.
func Phase[T any, P ~string](ready, failed P, fields func(T) (*P, *[]metav1.Condition)) func(T, bool) *[]metav1.Condition {
	return func(obj T, ok bool) *[]metav1.Condition {
		phase, conditions := fields(obj)
		*phase = failed
		if ok {
			*phase = ready
		}
		return conditions
	}
}
