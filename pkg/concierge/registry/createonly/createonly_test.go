// SPDX-License-Identifier: Apache-2.0

package createonly

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/selkie-dev/selkie/pkg/apis/concierge/identity"
)

func TestStorage(t *testing.T) {
	t.Parallel()
	s := New[identity.WhoAmIRequest, *identity.WhoAmIRequest, identity.WhoAmIRequestList, *identity.WhoAmIRequestList](
		identity.Resource("whoamirequests"), "whoamirequest")
	if _, ok := s.New().(*identity.WhoAmIRequest); !ok {
		t.Errorf("New() = %T", s.New())
	}
	if _, ok := s.NewList().(*identity.WhoAmIRequestList); !ok {
		t.Errorf("NewList() = %T", s.NewList())
	}
	if s.NamespaceScoped() || s.GetSingularName() != "whoamirequest" {
		t.Errorf("scoped %v, singular %q", s.NamespaceScoped(), s.GetSingularName())
	}
	list, err := s.List(context.Background(), nil)
	l, ok := list.(*identity.WhoAmIRequestList)
	if err != nil || !ok || len(l.Items) != 0 || l.ResourceVersion != "0" {
		t.Errorf("List = %#v, %v; want an empty list at resourceVersion 0", list, err)
	}
}

func TestCheckRequest(t *testing.T) {
	t.Parallel()
	kind := identity.Kind("WhoAmIRequest")
	req := &identity.WhoAmIRequest{ObjectMeta: metav1.ObjectMeta{Name: "r"}}
	ctx := context.Background()
	if got, err := CheckRequest[identity.WhoAmIRequest](ctx, kind, req, &metav1.CreateOptions{}); err != nil || got != req {
		t.Errorf("a good request: %v, %v", got, err)
	}
	if _, err := CheckRequest[identity.WhoAmIRequest](ctx, kind, &identity.WhoAmIRequestList{}, nil); !apierrors.IsBadRequest(err) {
		t.Errorf("another type: %v, want BadRequest", err)
	}
	inNamespace := genericapirequest.WithNamespace(ctx, "default")
	if _, err := CheckRequest[identity.WhoAmIRequest](inNamespace, kind, req, nil); !apierrors.IsBadRequest(err) {
		t.Errorf("a namespace: %v, want BadRequest", err)
	}
	if _, err := CheckRequest[identity.WhoAmIRequest](ctx, kind, req, &metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); !apierrors.IsInvalid(err) {
		t.Errorf("a dry run: %v, want Invalid", err)
	}
}
