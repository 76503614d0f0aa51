// SPDX-License-Identifier: Apache-2.0

// Package createonly holds what the concierge's request resources (TokenCredentialRequest,
// WhoAmIRequest) share as REST storage: they are cluster-scoped, answer only create,
// store nothing, and list as empty. Each resource embeds a Storage and adds Create, which
// starts with CheckRequest.
package createonly

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Storage is the storage of a create-only resource whose type is T (*T a runtime.Object)
// and whose list type is L.
type Storage[T any, PT interface {
	*T
	runtime.Object
}, L any, PL interface {
	*L
	runtime.Object
	SetResourceVersion(string)
}] struct {
	singular string
	table    rest.TableConvertor
}

// New returns the Storage of the resource gr, called singular in discovery.
func New[T any, PT interface {
	*T
	runtime.Object
}, L any, PL interface {
	*L
	runtime.Object
	SetResourceVersion(string)
}](gr schema.GroupResource, singular string) Storage[T, PT, L, PL] {
	return Storage[T, PT, L, PL]{singular: singular, table: rest.NewDefaultTableConvertor(gr)}
}

// New returns an empty object.
func (Storage[T, PT, L, PL]) New() runtime.Object { return PT(new(T)) }

// NewList returns an empty list.
func (Storage[T, PT, L, PL]) NewList() runtime.Object { return PL(new(L)) }

// Destroy releases nothing: the storage holds no resources.
func (Storage[T, PT, L, PL]) Destroy() {}

// NamespaceScoped is false: the resource is cluster-scoped.
func (Storage[T, PT, L, PL]) NamespaceScoped() bool { return false }

// GetSingularName is the resource's singular name, for discovery.
func (s Storage[T, PT, L, PL]) GetSingularName() string { return s.singular }

// List always returns an empty list: nothing is stored.
func (Storage[T, PT, L, PL]) List(context.Context, *metainternalversion.ListOptions) (runtime.Object, error) {
	list := PL(new(L))
	list.SetResourceVersion("0")
	return list, nil
}

// ConvertToTable renders requests for kubectl get.
func (s Storage[T, PT, L, PL]) ConvertToTable(ctx context.Context, obj runtime.Object, opts runtime.Object) (*metav1.Table, error) {
	return s.table.ConvertToTable(ctx, obj, opts)
}

// CheckRequest returns obj as a PT, or the API error a create must answer: obj is not
// of the resource's type (kind names it), the request names a namespace, or it asks
// for a dry run, which is not supported.
func CheckRequest[T any, PT interface {
	*T
	runtime.Object
	GetName() string
}](ctx context.Context, kind schema.GroupKind, obj runtime.Object, options *metav1.CreateOptions) (PT, error) {
	req, ok := obj.(PT)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a %s: %T", kind.Kind, obj))
	}
	if ns, ok := genericapirequest.NamespaceFrom(ctx); ok && ns != "" {
		return nil, apierrors.NewBadRequest("namespace is not allowed on " + kind.Kind + ": " + ns)
	}
	if options != nil && len(options.DryRun) > 0 {
		return nil, apierrors.NewInvalid(kind, req.GetName(),
			field.ErrorList{field.Invalid(field.NewPath("dryRun"), options.DryRun, "dryRun not supported")})
	}
	return req, nil
}
