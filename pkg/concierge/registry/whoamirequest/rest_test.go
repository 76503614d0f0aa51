// SPDX-License-Identifier: Apache-2.0

package whoamirequest

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/selkie-dev/selkie/pkg/apis/concierge/identity"
)

func TestCreateEchoesTheCaller(t *testing.T) {
	t.Parallel()
	r := NewREST(schema.GroupResource{})
	ctx := genericapirequest.WithUser(context.Background(), &user.DefaultInfo{
		Name: "pinny", UID: "u1", Groups: []string{"seals", "system:authenticated"},
		Extra: map[string][]string{"authentication.kubernetes.io/credential-id": {"X509SHA256=ab"}},
	})
	ctx = authenticator.WithAudiences(ctx, authenticator.Audiences{"aud1"})
	out, err := r.Create(ctx, &identity.WhoAmIRequest{}, nil, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := identity.KubernetesUserInfo{
		User: identity.UserInfo{Username: "pinny", UID: "u1", Groups: []string{"seals", "system:authenticated"},
			Extra: map[string]identity.ExtraValue{"authentication.kubernetes.io/credential-id": {"X509SHA256=ab"}}},
		Audiences: []string{"aud1"},
	}
	if diff := cmp.Diff(want, out.(*identity.WhoAmIRequest).Status.KubernetesUserInfo); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestCreateRequestErrors(t *testing.T) {
	t.Parallel()
	r := NewREST(schema.GroupResource{})
	withUser := genericapirequest.WithUser(context.Background(), &user.DefaultInfo{Name: "u"})
	if _, err := r.Create(genericapirequest.WithNamespace(withUser, "ns1"), &identity.WhoAmIRequest{}, nil, nil); !apierrors.IsBadRequest(err) ||
		!strings.Contains(err.Error(), "namespace is not allowed on WhoAmIRequest: ns1") {
		t.Errorf("namespaced: %v", err)
	}
	if _, err := r.Create(withUser, &identity.WhoAmIRequest{}, nil, &metav1.CreateOptions{DryRun: []string{"All"}}); !apierrors.IsInvalid(err) {
		t.Errorf("dry run: %v", err)
	}
	if _, err := r.Create(context.Background(), &identity.WhoAmIRequest{}, nil, nil); !apierrors.IsInternalError(err) {
		t.Errorf("no user: %v", err)
	}
	out, err := r.List(context.Background(), nil)
	if list := out.(*identity.WhoAmIRequestList); err != nil || len(list.Items) != 0 || list.ResourceVersion != "0" {
		t.Errorf("List = %+v, %v", out, err)
	}
}
