// SPDX-License-Identifier: Apache-2.0

package webhook

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/internal/testtls"
)

// readyReconciler returns a reconciler whose test authenticator, for wh with an
// inline CA, has been reconciled to Ready.
func readyReconciler(t *testing.T, wh *testWebhook) *Reconciler {
	t.Helper()
	r := newReconciler(t, newWebhookAuthenticator(v1alpha1.WebhookAuthenticatorSpec{Endpoint: wh.url, TLS: inlineTLS(wh)}))
	reconcileOnce(t, r)
	if cached(r) == nil {
		t.Fatal("authenticator not Ready after the first reconciliation")
	}
	return r
}

func TestDeletionRemovesFromCache(t *testing.T) {
	t.Parallel()
	r := readyReconciler(t, newWebhook(t))
	if err := r.Client.Delete(context.Background(), getWebhookAuthenticator(t, r)); err != nil {
		t.Fatal(err)
	}
	reconcileOnce(t, r)
	if _, ok := r.Cache.Get(cacheKey()); ok {
		t.Error("deleted authenticator still in the cache")
	}
}

// TestBecomesInvalid checks that an authenticator that stops validating is
// removed from the cache by the reconciliation that notices it.
func TestBecomesInvalid(t *testing.T) {
	t.Parallel()
	stopped := testtls.NewCA(t).NewServer(t, nil)
	stopped.Close()
	tests := []struct {
		name     string
		mutate   func(*v1alpha1.WebhookAuthenticatorSpec)
		wantType string
	}{
		{name: "endpoint becomes http", mutate: func(s *v1alpha1.WebhookAuthenticatorSpec) { s.Endpoint = "http://example.com" },
			wantType: v1alpha1.ConditionEndpointURLValid},
		{name: "CA becomes garbage", mutate: func(s *v1alpha1.WebhookAuthenticatorSpec) { s.TLS.CertificateAuthorityData = "Zm9v" },
			wantType: v1alpha1.ConditionTLSConfigurationValid},
		{name: "endpoint moves to a server that is down", mutate: func(s *v1alpha1.WebhookAuthenticatorSpec) { s.Endpoint = stopped.URL },
			wantType: v1alpha1.ConditionWebhookConnectionValid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := readyReconciler(t, newWebhook(t))
			obj := getWebhookAuthenticator(t, r)
			tc.mutate(&obj.Spec)
			update(t, r, obj)

			reconcileOnce(t, r)

			if _, ok := r.Cache.Get(cacheKey()); ok {
				t.Error("invalid authenticator still in the cache")
			}
			got := getWebhookAuthenticator(t, r)
			if got.Status.Phase != v1alpha1.WebhookAuthenticatorPhaseError {
				t.Errorf("phase = %q, want Error", got.Status.Phase)
			}
			for _, c := range got.Status.Conditions {
				if c.Type == tc.wantType && c.Status != metav1.ConditionFalse {
					t.Errorf("%s = %s, want False", c.Type, c.Status)
				}
			}
		})
	}
}

// TestRebuildOnlyOnChange checks that an unchanged configuration is not
// rebuilt and its status not rewritten, and that a changed one is rebuilt.
func TestRebuildOnlyOnChange(t *testing.T) {
	t.Parallel()
	wh := newWebhook(t)
	r := readyReconciler(t, wh)
	first := cached(r)
	before := getWebhookAuthenticator(t, r)

	reconcileOnce(t, r)
	if got := cached(r); got != first {
		t.Error("unchanged authenticator was rebuilt")
	}
	after := getWebhookAuthenticator(t, r)
	if after.ResourceVersion != before.ResourceVersion {
		t.Error("unchanged status was written again")
	}

	after.Spec.Endpoint = wh.url + "?v=2"
	update(t, r, after)
	reconcileOnce(t, r)
	if got := cached(r); got == nil || got == first {
		t.Error("changed authenticator was not rebuilt")
	}
}

// TestCASourceReload checks that a change to a referenced CA Secret or
// ConfigMap maps to the authenticators using it and takes effect when they
// are reconciled: a good CA makes the authenticator Ready and a bad one
// removes it from the cache.
func TestCASourceReload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind v1alpha1.CertificateAuthorityDataSourceKind
		obj  func(pem []byte) client.Object
	}{
		{kind: "Secret", obj: func(pem []byte) client.Object {
			return caSecret("ca", corev1.SecretTypeTLS, map[string][]byte{"ca.crt": pem})
		}},
		{kind: "ConfigMap", obj: func(pem []byte) client.Object {
			return caConfigMap("ca", map[string]string{"ca.crt": string(pem)})
		}},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind), func(t *testing.T) {
			t.Parallel()
			wh := newWebhook(t)
			r := newReconciler(t,
				newWebhookAuthenticator(v1alpha1.WebhookAuthenticatorSpec{Endpoint: wh.url, TLS: sourceTLS(tc.kind, "ca", "ca.crt")}),
				tc.obj(testtls.NewCA(t).PEM()))
			steps := []struct {
				pem       []byte
				wantReady bool
			}{
				{pem: nil, wantReady: false}, // the wrong CA, as created
				{pem: wh.ca.PEM(), wantReady: true},
				{pem: []byte("not a certificate"), wantReady: false},
				{pem: wh.ca.PEM(), wantReady: true},
			}
			for i, step := range steps {
				if step.pem != nil {
					obj := tc.obj(step.pem)
					update(t, r, obj)
					want := []reconcile.Request{{NamespacedName: client.ObjectKey{Name: testName}}}
					if diff := cmp.Diff(want, r.requestsFor(context.Background(), obj)); diff != "" {
						t.Fatalf("step %d: requests (-want +got):\n%s", i, diff)
					}
				}
				reconcileOnce(t, r)
				if _, ok := r.Cache.Get(cacheKey()); ok != step.wantReady {
					t.Errorf("step %d: in cache = %v, want %v", i, ok, step.wantReady)
				}
				if got := getWebhookAuthenticator(t, r).Status.Phase; (got == v1alpha1.WebhookAuthenticatorPhaseReady) != step.wantReady {
					t.Errorf("step %d: phase = %q", i, got)
				}
			}
		})
	}
}

func TestRequestsFor(t *testing.T) {
	t.Parallel()
	authn := func(name string, tls *v1alpha1.TLSSpec) client.Object {
		a := newWebhookAuthenticator(v1alpha1.WebhookAuthenticatorSpec{Endpoint: "https://example.com", TLS: tls})
		a.Name = name
		return a
	}
	r := newReconciler(t,
		authn("secret-user", sourceTLS("Secret", "ca", "ca.crt")),
		authn("configmap-user", sourceTLS("ConfigMap", "ca", "ca.crt")),
		authn("system-roots", nil),
	)
	tests := []struct {
		name string
		obj  client.Object
		want []string
	}{
		{name: "secret", obj: caSecret("ca", corev1.SecretTypeOpaque, nil), want: []string{"secret-user"}},
		{name: "configmap", obj: caConfigMap("ca", nil), want: []string{"configmap-user"}},
		{name: "other namespace", obj: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ca"}}},
		{name: "other name", obj: caSecret("other", corev1.SecretTypeOpaque, nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, req := range r.requestsFor(context.Background(), tc.obj) {
				got = append(got, req.Name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}
