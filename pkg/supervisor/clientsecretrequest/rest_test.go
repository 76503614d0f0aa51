// SPDX-License-Identifier: Apache-2.0

package clientsecretrequest_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/bcrypt"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/selkie-dev/selkie/pkg/apis/suffix"
	csapi "github.com/selkie-dev/selkie/pkg/apis/supervisor/clientsecret"
	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/clientregistry"
	"github.com/selkie-dev/selkie/pkg/supervisor/clientsecretrequest"
)

const (
	ns         = "selkie-supervisor"
	clientName = "client.oauth.pinniped.dev-my-app"
)

var gr = schema.GroupResource{Group: "clientsecretrequest.supervisor.pinniped.dev", Resource: clientsecretrequest.Resource}

type fixture struct {
	rest  *clientsecretrequest.REST
	store *clientregistry.SecretStore
	oc    *configv1alpha1.OIDCClient
}

func newFixture(t *testing.T, funcs interceptor.Funcs, stored ...string) *fixture {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := suffix.AddToScheme(s, "pinniped.dev"); err != nil {
		t.Fatal(err)
	}
	oc := &configv1alpha1.OIDCClient{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: clientName, UID: "uid-1"}}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(oc).WithInterceptorFuncs(funcs).Build()
	store := &clientregistry.SecretStore{Client: c, Namespace: ns, OIDCClientAPIVersion: "config.supervisor.pinniped.dev/v1alpha1"}
	if len(stored) > 0 {
		if err := store.Set(context.Background(), oc, nil, stored); err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{rest: clientsecretrequest.NewREST(c, store, ns, gr, nil), store: store, oc: oc}
}

func (f *fixture) stored(t *testing.T) []string {
	t.Helper()
	h, err := f.store.Get(context.Background(), f.oc)
	if err != nil {
		t.Fatal(err)
	}
	return h.List
}

func request(name string, generate, revoke bool) *csapi.OIDCClientSecretRequest {
	return &csapi.OIDCClientSecretRequest{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: csapi.OIDCClientSecretRequestSpec{GenerateNewSecret: generate, RevokeOldSecrets: revoke}}
}

func inNamespace(namespace string) context.Context {
	return genericapirequest.WithNamespace(context.Background(), namespace)
}

// TestCreateErrors checks every refusal of docs/wire-contract.md §1.11 and its status code.
func TestCreateErrors(t *testing.T) {
	t.Parallel()
	five := []string{"h5", "h4", "h3", "h2", "h1"}
	conflictOnUpdate := interceptor.Funcs{Update: func(context.Context, client.WithWatch, client.Object, ...client.UpdateOption) error {
		return apierrors.NewConflict(schema.GroupResource{Resource: "secrets"}, "x", errors.New("changed"))
	}}
	existsOnCreate := interceptor.Funcs{Create: func(context.Context, client.WithWatch, client.Object, ...client.CreateOption) error {
		return apierrors.NewAlreadyExists(schema.GroupResource{Resource: "secrets"}, "x")
	}}
	tests := []struct {
		name       string
		ctx        context.Context
		obj        runtime.Object
		opts       *metav1.CreateOptions
		funcs      interceptor.Funcs
		stored     []string
		wantCode   int32
		wantSubstr string
	}{
		{name: "other namespace", ctx: inNamespace("default"), obj: request(clientName, true, false),
			wantCode: http.StatusBadRequest, wantSubstr: "namespace must be selkie-supervisor on OIDCClientSecretRequest, was default"},
		{name: "no namespace", ctx: context.Background(), obj: request(clientName, true, false), wantCode: http.StatusBadRequest},
		{name: "dry run", obj: request(clientName, true, false), opts: &metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}},
			wantCode: http.StatusUnprocessableEntity, wantSubstr: "dryRun not supported"},
		{name: "name without the prefix", obj: request("my-app", true, false),
			wantCode: http.StatusUnprocessableEntity, wantSubstr: "metadata.name"},
		{name: "bare prefix", obj: request(configv1alpha1.OIDCClientNamePrefix, true, false),
			wantCode: http.StatusUnprocessableEntity, wantSubstr: "metadata.name"},
		{name: "unknown client", obj: request(clientName+"-other", true, false),
			wantCode: http.StatusUnprocessableEntity, wantSubstr: "Not found"},
		{name: "a sixth secret", obj: request(clientName, true, false), stored: five,
			wantCode: http.StatusBadRequest, wantSubstr: "OIDCClient " + clientName + " has too many secrets, spec.revokeOldSecrets must be true"},
		{name: "concurrent update", obj: request(clientName, true, false), stored: []string{"h1"}, funcs: conflictOnUpdate,
			wantCode: http.StatusConflict},
		{name: "concurrent create", obj: request(clientName, true, false), funcs: existsOnCreate,
			wantCode: http.StatusConflict},
		{name: "not an OIDCClientSecretRequest", obj: &csapi.OIDCClientSecretRequestList{}, wantCode: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tt.funcs, tt.stored...)
			ctx := tt.ctx
			if ctx == nil {
				ctx = inNamespace(ns)
			}
			before := f.stored(t)
			got, err := f.rest.Create(ctx, tt.obj, nil, tt.opts)
			var status apierrors.APIStatus
			if !errors.As(err, &status) || status.Status().Code != tt.wantCode {
				t.Fatalf("Create = %v, %v; want a %d", got, err, tt.wantCode)
			}
			if !strings.Contains(err.Error(), tt.wantSubstr) {
				t.Errorf("error %q does not contain %q", err, tt.wantSubstr)
			}
			if after := f.stored(t); !cmp.Equal(before, after) {
				t.Errorf("a refused request changed the secrets from %v to %v", before, after)
			}
		})
	}
}

func TestCreateAdmissionRefuses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, interceptor.Funcs{})
	refuse := func(context.Context, runtime.Object) error {
		return apierrors.NewForbidden(gr, clientName, errors.New("no"))
	}
	if _, err := f.rest.Create(inNamespace(ns), request(clientName, true, false), refuse, nil); !apierrors.IsForbidden(err) {
		t.Errorf("Create: %v, want admission's Forbidden", err)
	}
	if got := f.stored(t); len(got) != 0 {
		t.Errorf("stored %v after admission refused", got)
	}
}

func TestCreateGeneratesAndRevokes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, interceptor.Funcs{})

	first := create(t, f, request(clientName, true, false))
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(first.Status.GeneratedSecret) || first.Status.TotalClientSecrets != 1 {
		t.Fatalf("first request: %+v", first.Status)
	}
	if first.Name != clientName || first.Namespace != ns {
		t.Errorf("response named %s/%s", first.Namespace, first.Name)
	}
	second := create(t, f, request(clientName, true, false))
	if second.Status.GeneratedSecret == first.Status.GeneratedSecret || second.Status.TotalClientSecrets != 2 {
		t.Fatalf("second request: %+v", second.Status)
	}
	stored := f.stored(t)
	if len(stored) != 2 {
		t.Fatalf("stored %d hashes, want 2", len(stored))
	}
	for i, secret := range []string{second.Status.GeneratedSecret, first.Status.GeneratedSecret} { // newest first
		if err := bcrypt.CompareHashAndPassword([]byte(stored[i]), []byte(secret)); err != nil {
			t.Errorf("hash %d does not match its secret: %v", i, err)
		}
		if cost, _ := bcrypt.Cost([]byte(stored[i])); cost != 12 {
			t.Errorf("hash %d has cost %d, want 12", i, cost)
		}
	}

	// Neither flag: nothing changes, the count is reported.
	if got := create(t, f, request(clientName, false, false)); got.Status.GeneratedSecret != "" || got.Status.TotalClientSecrets != 2 {
		t.Errorf("no-op request: %+v", got.Status)
	}
	// Revoke only: the newest stays.
	if got := create(t, f, request(clientName, false, true)); got.Status.GeneratedSecret != "" || got.Status.TotalClientSecrets != 1 {
		t.Errorf("revoke request: %+v", got.Status)
	}
	if diff := cmp.Diff(stored[:1], f.stored(t)); diff != "" {
		t.Errorf("after revoking (-want +got):\n%s", diff)
	}
}

// TestCreateRevokeAndGenerateWhenFull checks that a full client can rotate with
// revokeOldSecrets, and that only the new secret is left.
func TestCreateRevokeAndGenerateWhenFull(t *testing.T) {
	t.Parallel()
	f := newFixture(t, interceptor.Funcs{}, "h5", "h4", "h3", "h2", "h1")
	got := create(t, f, request(clientName, true, true))
	if got.Status.TotalClientSecrets != 1 || got.Status.GeneratedSecret == "" {
		t.Fatalf("status %+v", got.Status)
	}
	stored := f.stored(t)
	if len(stored) != 1 || bcrypt.CompareHashAndPassword([]byte(stored[0]), []byte(got.Status.GeneratedSecret)) != nil {
		t.Errorf("stored %v, want only the new secret's hash", stored)
	}
}

func create(t *testing.T, f *fixture, req *csapi.OIDCClientSecretRequest) *csapi.OIDCClientSecretRequest {
	t.Helper()
	obj, err := f.rest.Create(inNamespace(ns), req, nil, &metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return obj.(*csapi.OIDCClientSecretRequest)
}

// TestCreateConcurrentChange lets another writer change the Secret between the
// request's read and its write: the request fails with 409 and the other write stays.
func TestCreateConcurrentChange(t *testing.T) {
	t.Parallel()
	var once sync.Once
	funcs := interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
		if err := c.Get(ctx, key, obj, opts...); err != nil {
			return err
		}
		if secret, ok := obj.(*corev1.Secret); ok {
			once.Do(func() {
				other := secret.DeepCopy()
				other.Data = map[string][]byte{"hashes": []byte(`["other"]`)}
				if err := c.Update(ctx, other); err != nil {
					t.Errorf("concurrent write: %v", err)
				}
			})
		}
		return nil
	}}
	f := newFixture(t, funcs, "h1")
	_, err := f.rest.Create(inNamespace(ns), request(clientName, true, false), nil, nil)
	if !apierrors.IsConflict(err) {
		t.Fatalf("Create: %v, want a Conflict", err)
	}
	if got := f.stored(t); !cmp.Equal(got, []string{"other"}) {
		t.Errorf("stored %v, want the concurrent write", got)
	}
}
