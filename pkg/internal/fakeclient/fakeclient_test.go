// SPDX-License-Identifier: Apache-2.0

package fakeclient

import (
	"context"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
)

func TestNewCopiesAndCountsStatusWrites(t *testing.T) {
	t.Parallel()
	shared := &authenticationv1alpha1.JWTAuthenticator{ObjectMeta: metav1.ObjectMeta{Name: "a"}}
	var writes atomic.Int32
	c := New(t, Options{Suffix: "pinniped.dev", Status: []client.Object{&authenticationv1alpha1.JWTAuthenticator{}}, StatusWrites: &writes}, shared)
	if shared.ResourceVersion != "" {
		t.Error("the fixture itself was stored, not a copy")
	}
	var got authenticationv1alpha1.JWTAuthenticator
	if err := c.Get(context.Background(), client.ObjectKey{Name: "a"}, &got); err != nil {
		t.Fatal(err)
	}
	if gvk, err := apiutil.GVKForObject(&got, c.Scheme()); err != nil || gvk.Group != "authentication.concierge.pinniped.dev" {
		t.Errorf("GVK %v (%v), want the reference suffix's group", gvk, err)
	}
	got.Status.Phase = authenticationv1alpha1.JWTAuthenticatorPhaseReady
	if err := c.Status().Update(context.Background(), &got); err != nil {
		t.Fatal(err)
	}
	if writes.Load() != 1 {
		t.Errorf("status writes = %d, want 1", writes.Load())
	}
}
