// SPDX-License-Identifier: Apache-2.0

package whoamirequest

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/selkie-dev/selkie/pkg/apis/concierge/identity"
	"github.com/selkie-dev/selkie/pkg/concierge/registry/createonly"
)

// REST is the WhoAmIRequest storage.
type REST struct {
	createonly.Storage[identity.WhoAmIRequest, *identity.WhoAmIRequest, identity.WhoAmIRequestList, *identity.WhoAmIRequestList]
}

var _ interface {
	rest.Creater
	rest.Scoper
	rest.Storage
	rest.Lister
	rest.SingularNameProvider
} = (*REST)(nil)

// NewREST returns the storage for the group resource gr.
func NewREST(gr schema.GroupResource) *REST {
	return &REST{Storage: createonly.New[identity.WhoAmIRequest, *identity.WhoAmIRequest, identity.WhoAmIRequestList, *identity.WhoAmIRequestList](gr, "whoamirequest")}
}

// Create returns the caller's identity.
func (*REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	req, err := createonly.CheckRequest[identity.WhoAmIRequest](ctx, identity.Kind("WhoAmIRequest"), obj, options)
	if err != nil {
		return nil, err
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
