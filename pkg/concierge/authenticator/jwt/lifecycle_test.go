// SPDX-License-Identifier: Apache-2.0

package jwt

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

// readyReconciler returns a reconciler whose test authenticator, for is with an
// inline CA, has been reconciled to Ready.
func readyReconciler(t *testing.T, is *testIssuer) *Reconciler {
	t.Helper()
	r := newReconciler(t, newJWTAuthenticator(v1alpha1.JWTAuthenticatorSpec{
		Issuer: is.url, Audience: testAudience, TLS: inlineTLS(is),
	}))
	reconcileOnce(t, r)
	if cached(r) == nil {
		t.Fatal("authenticator not Ready after the first reconciliation")
	}
	return r
}

func TestDeletionRemovesFromCache(t *testing.T) {
	t.Parallel()
	r := readyReconciler(t, newIssuer(t, issuerOptions{}))
	if err := r.Client.Delete(context.Background(), getJWTAuthenticator(t, r)); err != nil {
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
		mutate   func(*v1alpha1.JWTAuthenticatorSpec)
		wantType string
	}{
		{name: "issuer becomes http", mutate: func(s *v1alpha1.JWTAuthenticatorSpec) { s.Issuer = "http://example.com" },
			wantType: v1alpha1.ConditionIssuerURLValid},
		{name: "CA becomes garbage", mutate: func(s *v1alpha1.JWTAuthenticatorSpec) { s.TLS.CertificateAuthorityData = "Zm9v" },
			wantType: v1alpha1.ConditionTLSConfigurationValid},
		{name: "issuer moves to a server that is down", mutate: func(s *v1alpha1.JWTAuthenticatorSpec) { s.Issuer = stopped.URL },
			wantType: v1alpha1.ConditionDiscoveryURLValid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := readyReconciler(t, newIssuer(t, issuerOptions{}))
			obj := getJWTAuthenticator(t, r)
			tc.mutate(&obj.Spec)
			update(t, r, obj)

			reconcileOnce(t, r)

			if _, ok := r.Cache.Get(cacheKey()); ok {
				t.Error("invalid authenticator still in the cache")
			}
			got := getJWTAuthenticator(t, r)
			if got.Status.Phase != v1alpha1.JWTAuthenticatorPhaseError {
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

// TestRebuildOnlyOnChange checks that an unchanged configuration is neither
// probed nor rebuilt again, and that a changed one is.
func TestRebuildOnlyOnChange(t *testing.T) {
	t.Parallel()
	is := newIssuer(t, issuerOptions{})
	r := readyReconciler(t, is)
	first := cached(r)
	before := getJWTAuthenticator(t, r)

	reconcileOnce(t, r)
	if got := cached(r); got != first {
		t.Error("unchanged authenticator was rebuilt")
	}
	if n := is.discoveryCalls.Load(); n != 1 {
		t.Errorf("discovery called %d times, want 1", n)
	}
	after := getJWTAuthenticator(t, r)
	if after.ResourceVersion != before.ResourceVersion {
		t.Error("unchanged status was written again")
	}

	after.Spec.Audience = "another-audience"
	update(t, r, after)
	reconcileOnce(t, r)
	if got := cached(r); got == nil || got == first {
		t.Error("changed authenticator was not rebuilt")
	}
	if n := is.discoveryCalls.Load(); n != 2 {
		t.Errorf("discovery called %d times, want 2", n)
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
			return caSecret("ca", corev1.SecretTypeOpaque, map[string][]byte{"ca.crt": pem})
		}},
		{kind: "ConfigMap", obj: func(pem []byte) client.Object {
			return caConfigMap("ca", map[string]string{"ca.crt": string(pem)})
		}},
	}
	for _, tc := range tests {
		t.Run(string(tc.kind), func(t *testing.T) {
			t.Parallel()
			is := newIssuer(t, issuerOptions{})
			r := newReconciler(t,
				newJWTAuthenticator(v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience, TLS: sourceTLS(tc.kind, "ca", "ca.crt")}),
				tc.obj(testtls.NewCA(t).PEM()))
			steps := []struct {
				pem       []byte
				wantReady bool
			}{
				{pem: nil, wantReady: false}, // the wrong CA, as created
				{pem: is.ca.PEM(), wantReady: true},
				{pem: []byte("not a certificate"), wantReady: false},
				{pem: is.ca.PEM(), wantReady: true},
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
				if got := getJWTAuthenticator(t, r).Status.Phase; (got == v1alpha1.JWTAuthenticatorPhaseReady) != step.wantReady {
					t.Errorf("step %d: phase = %q", i, got)
				}
			}
		})
	}
}

func TestRequestsFor(t *testing.T) {
	t.Parallel()
	authn := func(name string, tls *v1alpha1.TLSSpec) client.Object {
		a := newJWTAuthenticator(v1alpha1.JWTAuthenticatorSpec{Issuer: "https://example.com", Audience: testAudience, TLS: tls})
		a.Name = name
		return a
	}
	r := newReconciler(t,
		authn("secret-user", sourceTLS("Secret", "ca", "ca.crt")),
		authn("secret-user-2", sourceTLS("Secret", "ca", "other-key")),
		authn("configmap-user", sourceTLS("ConfigMap", "ca", "ca.crt")),
		authn("inline", &v1alpha1.TLSSpec{CertificateAuthorityData: "x"}),
		authn("system-roots", nil),
	)
	secret := func(ns, name string) client.Object {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	}
	configMap := func(ns, name string) client.Object {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	}
	tests := []struct {
		name string
		obj  client.Object
		want []string
	}{
		{name: "secret", obj: secret(testNamespace, "ca"), want: []string{"secret-user", "secret-user-2"}},
		{name: "configmap", obj: configMap(testNamespace, "ca"), want: []string{"configmap-user"}},
		{name: "other namespace", obj: secret("default", "ca")},
		{name: "other name", obj: configMap(testNamespace, "other")},
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
