// SPDX-License-Identifier: Apache-2.0

// Package fakeclient builds the controller-runtime fake clients that the controllers'
// unit tests run against, one way for every package.
package fakeclient

import (
	"context"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/selkie-dev/selkie/pkg/apis/suffix"
)

// Options describe a fake client.
type Options struct {
	// Suffix registers Selkie's kinds under this API group suffix (the reference's
	// "pinniped.dev" checks that nothing depends on the default group); "" registers the
	// Kubernetes kinds only.
	Suffix string
	// Status are the kinds whose status is a subresource.
	Status []client.Object
	// Intercept, when set, intercepts the client's calls.
	Intercept *interceptor.Funcs
	// StatusWrites, when set, counts status updates.
	StatusWrites *atomic.Int32
}

// New returns a fake client holding copies of objs: the fake client writes
// resourceVersion into what it is given, and parallel tests share their fixtures.
func New(t testing.TB, o Options, objs ...client.Object) client.Client {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if o.Suffix != "" {
		if err := suffix.AddToScheme(s, o.Suffix); err != nil {
			t.Fatal(err)
		}
	}
	own := make([]client.Object, 0, len(objs))
	for _, obj := range objs {
		c, ok := obj.DeepCopyObject().(client.Object)
		if !ok {
			t.Fatalf("%T is not a client.Object", obj)
		}
		own = append(own, c)
	}
	b := fake.NewClientBuilder().WithScheme(s).WithObjects(own...).WithStatusSubresource(o.Status...)
	funcs := interceptor.Funcs{}
	if o.Intercept != nil {
		funcs = *o.Intercept
	}
	if o.StatusWrites != nil {
		next := funcs.SubResourceUpdate
		funcs.SubResourceUpdate = func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			o.StatusWrites.Add(1)
			if next != nil {
				return next(ctx, c, sub, obj, opts...)
			}
			return c.SubResource(sub).Update(ctx, obj, opts...)
		}
	}
	if o.Intercept != nil || o.StatusWrites != nil {
		b = b.WithInterceptorFuncs(funcs)
	}
	return b.Build()
}
