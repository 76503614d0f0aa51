// SPDX-License-Identifier: Apache-2.0

package sessionstore_test

import (
	"errors"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

const testNamespace = "selkie-supervisor"

// newStrictClientset returns a fake clientset whose Secrets behave like the API
// server's in what the stores rely on. The plain fake's object tracker neither sets
// metadata.resourceVersion nor checks it: here every write sets a new one, an Update
// carrying a stale one and a Delete with a stale resourceVersion precondition fail
// with Conflict, and a Create carrying one is rejected. The Fake runs one reactor at a
// time, which guards version.
func newStrictClientset() *fake.Clientset {
	cs := fake.NewClientset()
	tracker := cs.Tracker()
	var version int64
	next := func() string {
		version++
		return strconv.FormatInt(version, 10)
	}
	current := func(a clienttesting.Action, name string) (*corev1.Secret, error) {
		obj, err := tracker.Get(a.GetResource(), a.GetNamespace(), name)
		if err != nil {
			return nil, err
		}
		return obj.(*corev1.Secret), nil
	}
	conflict := func(a clienttesting.Action, name string) error {
		return apierrors.NewConflict(a.GetResource().GroupResource(), name,
			errors.New("the object has been modified; please apply your changes to the latest version and try again"))
	}

	cs.PrependReactor("create", "secrets", func(action clienttesting.Action) (bool, runtime.Object, error) {
		a := action.(clienttesting.CreateAction)
		secret := a.GetObject().(*corev1.Secret).DeepCopy()
		if secret.ResourceVersion != "" {
			return true, nil, apierrors.NewBadRequest("resourceVersion should not be set on objects to be created")
		}
		secret.ResourceVersion = next()
		if err := tracker.Create(a.GetResource(), secret, a.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, secret.DeepCopy(), nil
	})
	cs.PrependReactor("update", "secrets", func(action clienttesting.Action) (bool, runtime.Object, error) {
		a := action.(clienttesting.UpdateAction)
		secret := a.GetObject().(*corev1.Secret).DeepCopy()
		cur, err := current(a, secret.Name)
		if err != nil {
			return true, nil, err
		}
		if secret.ResourceVersion != "" && secret.ResourceVersion != cur.ResourceVersion {
			return true, nil, conflict(a, secret.Name)
		}
		secret.ResourceVersion = next()
		if err := tracker.Update(a.GetResource(), secret, a.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, secret.DeepCopy(), nil
	})
	cs.PrependReactor("delete", "secrets", func(action clienttesting.Action) (bool, runtime.Object, error) {
		a := action.(clienttesting.DeleteAction)
		cur, err := current(a, a.GetName())
		if err != nil {
			return true, nil, err
		}
		if pre := a.GetDeleteOptions().Preconditions; pre != nil && pre.ResourceVersion != nil && *pre.ResourceVersion != cur.ResourceVersion {
			return true, nil, conflict(a, a.GetName())
		}
		return true, nil, tracker.Delete(a.GetResource(), a.GetNamespace(), a.GetName())
	})
	return cs
}

// TestPlainFakeIgnoresResourceVersion records why newStrictClientset exists: if
// client-go's fake starts enforcing resourceVersion, the reactors can go.
func TestPlainFakeIgnoresResourceVersion(t *testing.T) {
	t.Parallel()
	secrets := fake.NewClientset().CoreV1().Secrets(testNamespace)
	created, err := secrets.Create(t.Context(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stale := created.DeepCopy()
	stale.ResourceVersion = "stale"
	if _, err := secrets.Update(t.Context(), stale, metav1.UpdateOptions{}); err != nil {
		t.Skipf("the plain fake now rejects stale updates (%v): newStrictClientset may be unnecessary", err)
	}
	if created.ResourceVersion != "" {
		t.Logf("the plain fake now sets resourceVersion %q", created.ResourceVersion)
	}
}
