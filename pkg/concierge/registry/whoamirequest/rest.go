// SPDX-License-Identifier: Apache-2.0

package whoamirequest

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/selkie-dev/selkie/pkg/apis/concierge/identity"
)

// REST is the WhoAmIRequest storage.
type REST struct {
	table rest.TableConvertor
}

var _ interface {
	rest.Creater
	rest.Scoper
	rest.Storage
	rest.Lister
	rest.SingularNameProvider
} = (*REST)(nil)

// NewREST returns the storage for the group resource gr.
func NewREST(gr schema.GroupResource) *REST { return &REST{table: rest.NewDefaultTableConvertor(gr)} }

// New returns an empty WhoAmIRequest.
func (*REST) New() runtime.Object { return &identity.WhoAmIRequest{} }

// NewList returns an empty list.
func (*REST) NewList() runtime.Object { return &identity.WhoAmIRequestList{} }

// Destroy releases nothing.
func (*REST) Destroy() {}

// NamespaceScoped is false: WhoAmIRequest is cluster-scoped.
func (*REST) NamespaceScoped() bool { return false }

// GetSingularName is the resource's singular name, for discovery.
func (*REST) GetSingularName() string { return "whoamirequest" }

// List always returns an empty list.
func (*REST) List(context.Context, *metainternalversion.ListOptions) (runtime.Object, error) {
	return &identity.WhoAmIRequestList{ListMeta: metav1.ListMeta{ResourceVersion: "0"}}, nil
}

// ConvertToTable renders requests for kubectl get.
func (r *REST) ConvertToTable(ctx context.Context, obj runtime.Object, opts runtime.Object) (*metav1.Table, error) {
	return r.table.ConvertToTable(ctx, obj, opts)
}

// Create returns the caller's identity.
func (*REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	req, ok := obj.(*identity.WhoAmIRequest)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a WhoAmIRequest: %T", obj))
	}
	if ns, ok := genericapirequest.NamespaceFrom(ctx); ok && ns != "" {
		return nil, apierrors.NewBadRequest("namespace is not allowed on WhoAmIRequest: " + ns)
	}
	if options != nil && len(options.DryRun) > 0 {
		return nil, apierrors.NewInvalid(identity.Kind("WhoAmIRequest"), req.Name,
			field.ErrorList{field.Invalid(field.NewPath("dryRun"), options.DryRun, "dryRun not supported")})
	}
	if createValidation != nil {
		if err := createValidation(ctx, req.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil, apierrors.NewInternalError(fmt.Errorf("no user in the request context"))
	}
	info := identity.UserInfo{Username: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups()}
	if extra := u.GetExtra(); len(extra) > 0 {
		info.Extra = make(map[string]identity.ExtraValue, len(extra))
		for k, v := range extra {
			info.Extra[k] = v
		}
	}
	out := &identity.WhoAmIRequest{Status: identity.WhoAmIRequestStatus{KubernetesUserInfo: identity.KubernetesUserInfo{User: info}}}
	if auds, ok := authenticator.AudiencesFrom(ctx); ok {
		out.Status.KubernetesUserInfo.Audiences = auds
	}
	return out, nil
}
