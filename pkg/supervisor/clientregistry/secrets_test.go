// SPDX-License-Identifier: Apache-2.0

package clientregistry_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/selkie-dev/selkie/pkg/supervisor/clientregistry"
)

func TestSecretName(t *testing.T) {
	t.Parallel()
	name := clientregistry.SecretName(clientName)
	if !regexp.MustCompile(`^selkie-oidc-client-secrets-[0-9a-f]{16}$`).MatchString(name) {
		t.Errorf("SecretName = %q", name)
	}
	if again := clientregistry.SecretName(clientName); again != name {
		t.Errorf("SecretName is not deterministic: %q, %q", name, again)
	}
	long := clientName + strings.Repeat("x", 200)
	if other := clientregistry.SecretName(long); other == name || len(other) > 63 {
		t.Errorf("SecretName of a long name = %q", other)
	}
}

func TestSecretStoreRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, nil)
	oc := validClient("uid-1")
	got, err := f.store.Get(ctx, oc)
	if err != nil || len(got.List) != 0 {
		t.Fatalf("Get before any Set = %v, %v; want no hashes", got, err)
	}
	f.storeHashes(t, oc, "h2", "h1")
	got, err = f.store.Get(ctx, oc)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"h2", "h1"}, got.List); diff != "" {
		t.Errorf("hashes (-want +got):\n%s", diff)
	}
	var secret corev1.Secret
	if err := f.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: clientregistry.SecretName(clientName)}, &secret); err != nil {
		t.Fatal(err)
	}
	wantOwner := []metav1.OwnerReference{{APIVersion: apiVersion, Kind: "OIDCClient", Name: clientName, UID: "uid-1", Controller: new(true)}}
	if diff := cmp.Diff(wantOwner, secret.OwnerReferences); diff != "" {
		t.Errorf("owner references (-want +got):\n%s", diff)
	}
	if secret.Type != clientregistry.SecretType || secret.Annotations["storage.selkie.dev/oidc-client"] != clientName {
		t.Errorf("Secret type %q annotations %v", secret.Type, secret.Annotations)
	}
}

func TestSecretStoreOptimisticConcurrency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, nil)
	oc := validClient("uid-1")

	// Two writers read "nothing stored"; the second create fails.
	a, _ := f.store.Get(ctx, oc)
	b, _ := f.store.Get(ctx, oc)
	if err := f.store.Set(ctx, oc, a, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Set(ctx, oc, b, []string{"b"}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create: %v, want AlreadyExists", err)
	}
	// Two writers read the same version; the second update fails.
	a, _ = f.store.Get(ctx, oc)
	b, _ = f.store.Get(ctx, oc)
	if err := f.store.Set(ctx, oc, a, []string{"a2", "a"}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Set(ctx, oc, b, []string{"b2", "a"}); !apierrors.IsConflict(err) {
		t.Errorf("stale update: %v, want Conflict", err)
	}
	got, _ := f.store.Get(ctx, oc)
	if diff := cmp.Diff([]string{"a2", "a"}, got.List); diff != "" {
		t.Errorf("hashes (-want +got):\n%s", diff)
	}
}

// TestSecretStorePreviousClient checks that the hashes of a deleted OIDCClient do not
// count for a new one of the same name, and that the new one takes the Secret over.
func TestSecretStorePreviousClient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, nil)
	f.storeHashes(t, validClient("old-uid"), "old")
	oc := validClient("new-uid")
	got, err := f.store.Get(ctx, oc)
	if err != nil || len(got.List) != 0 {
		t.Fatalf("Get for the new client = %v, %v; want no hashes", got, err)
	}
	if err := f.store.Set(ctx, oc, got, []string{"new"}); err != nil {
		t.Fatal(err)
	}
	got, err = f.store.Get(ctx, oc)
	if err != nil || !cmp.Equal(got.List, []string{"new"}) {
		t.Errorf("Get after the takeover = %v, %v", got, err)
	}
	if old, _ := f.store.Get(ctx, validClient("old-uid")); len(old.List) != 0 {
		t.Errorf("the old client still has hashes %v", old.List)
	}
}

func TestSecretStoreUnreadable(t *testing.T) {
	t.Parallel()
	owner := []metav1.OwnerReference{{APIVersion: apiVersion, Kind: "OIDCClient", Name: clientName, UID: "uid-1"}}
	tests := []struct {
		name   string
		secret *corev1.Secret
	}{
		{name: "not JSON", secret: &corev1.Secret{Type: clientregistry.SecretType, Data: map[string][]byte{"hashes": []byte("nope")}}},
		{name: "other type", secret: &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"hashes": []byte(`[]`)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.secret.ObjectMeta = metav1.ObjectMeta{Namespace: ns, Name: clientregistry.SecretName(clientName), OwnerReferences: owner}
			f := newFixture(t, nil, tt.secret)
			if _, err := f.store.Get(context.Background(), validClient("uid-1")); !errors.Is(err, clientregistry.ErrUnreadable) {
				t.Errorf("Get: %v, want ErrUnreadable", err)
			}
		})
	}
}
