// SPDX-License-Identifier: Apache-2.0

package oidc_test

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/internal/fakeclient"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream/oidc"
)

const ns = "selkie-supervisor"

// idpKey is the registry key of the test resource.
func idpKey() upstream.Key { return upstream.Key{Kind: upstream.KindOIDC, Name: "my-idp"} }

// testEnv is a fake API server client, counting status writes, and a reconciler.
type testEnv struct {
	client       client.Client
	registry     *upstream.Registry
	r            *oidc.Reconciler
	statusWrites atomic.Int32
}

func newEnv(t *testing.T, funcs *interceptor.Funcs, objs ...client.Object) *testEnv {
	t.Helper()
	env := &testEnv{registry: upstream.NewRegistry()}
	// The reference suffix: the reconciler must not depend on the default group.
	env.client = fakeclient.New(t, fakeclient.Options{Suffix: "pinniped.dev", Status: []client.Object{&idpv1alpha1.OIDCIdentityProvider{}},
		Intercept: funcs, StatusWrites: &env.statusWrites}, objs...)
	if gvk, err := apiutil.GVKForObject(&idpv1alpha1.OIDCIdentityProvider{}, env.client.Scheme()); err != nil || gvk.Group != "idp.supervisor.pinniped.dev" {
		t.Fatalf("GVK = %v, %v", gvk, err)
	}
	env.r = oidc.NewReconciler(oidc.ReconcilerConfig{ControllerConfig: upstream.ControllerConfig{Client: env.client, Registry: env.registry, Namespace: ns, Log: slog.New(slog.DiscardHandler)}, HTTPTimeout: 5 * time.Second})
	return env
}

func (e *testEnv) reconcile(t *testing.T) ctrl.Result {
	t.Helper()
	res, err := e.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: "my-idp"}})
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	return res
}

func (e *testEnv) get(t *testing.T) *idpv1alpha1.OIDCIdentityProvider {
	t.Helper()
	idp := &idpv1alpha1.OIDCIdentityProvider{}
	if err := e.client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "my-idp"}, idp); err != nil {
		t.Fatal(err)
	}
	return idp
}

func testIDP(issuer string, caPEM []byte, edit func(*idpv1alpha1.OIDCIdentityProvider)) *idpv1alpha1.OIDCIdentityProvider {
	idp := &idpv1alpha1.OIDCIdentityProvider{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "my-idp", UID: "uid-1", Generation: 3},
		Spec: idpv1alpha1.OIDCIdentityProviderSpec{
			Issuer: issuer,
			TLS:    &idpv1alpha1.TLSSpec{CertificateAuthorityData: base64.StdEncoding.EncodeToString(caPEM)},
			Client: idpv1alpha1.OIDCClient{SecretName: "client"},
			Claims: idpv1alpha1.OIDCClaims{Username: "email", Groups: "groups"},
		},
	}
	if edit != nil {
		edit(idp)
	}
	return idp
}

func clientSecret(typ string, data map[string][]byte) *corev1.Secret {
	if data == nil {
		data = map[string][]byte{"clientID": []byte(testClientID), "clientSecret": []byte(testClientSecret)}
	}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "client"}, Type: corev1.SecretType(typ), Data: data}
}

// summary renders conditions as type → "Status Reason", checking their generation.
func summary(t *testing.T, idp *idpv1alpha1.OIDCIdentityProvider) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range idp.Status.Conditions {
		out[c.Type] = string(c.Status) + " " + c.Reason
		if c.ObservedGeneration != idp.Generation || c.Message == "" {
			t.Errorf("condition %s: observedGeneration %d (want %d), message %q", c.Type, c.ObservedGeneration, idp.Generation, c.Message)
		}
	}
	return out
}

func conditions(secret, discovery, params, tls string) map[string]string {
	return map[string]string{
		idpv1alpha1.ConditionClientCredentialsSecretValid:       secret,
		idpv1alpha1.ConditionOIDCDiscoverySucceeded:             discovery,
		idpv1alpha1.ConditionAdditionalAuthorizeParametersValid: params,
		idpv1alpha1.ConditionTLSConfigurationValid:              tls,
	}
}

const ok = "True Success"

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func TestReconcileConditions(t *testing.T) {
	t.Parallel()
	f := newFakeUpstream(t)
	ca := f.caPEM()
	caSource := func(kind idpv1alpha1.CertificateAuthorityDataSourceKind) func(*idpv1alpha1.OIDCIdentityProvider) {
		return func(idp *idpv1alpha1.OIDCIdentityProvider) {
			idp.Spec.TLS = &idpv1alpha1.TLSSpec{CertificateAuthorityDataSource: &idpv1alpha1.CertificateAuthorityDataSourceSpec{Kind: kind, Name: "ca", Key: "ca.crt"}}
		}
	}
	goodSecret := clientSecret(idpv1alpha1.SecretTypeOIDCClient, nil)
	tests := []struct {
		name         string
		issuer       string
		edit         func(*idpv1alpha1.OIDCIdentityProvider)
		objs         []client.Object
		want         map[string]string
		wantMessage  string
		wantPassword bool
		wantRequeue  bool
	}{
		{name: "ready", objs: []client.Object{goodSecret}, want: conditions(ok, ok, ok, ok)},
		{
			name: "ready with the reference secret type and the password grant",
			edit: func(idp *idpv1alpha1.OIDCIdentityProvider) { idp.Spec.AuthorizationConfig.AllowPasswordGrant = true },
			objs: []client.Object{clientSecret(idpv1alpha1.SecretTypeOIDCClientPinniped, nil)},
			want: conditions(ok, ok, ok, ok), wantPassword: true,
		},
		{
			name: "ready with the CA from a ConfigMap", edit: caSource("ConfigMap"),
			objs: []client.Object{goodSecret, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ca"}, Data: map[string]string{"ca.crt": string(ca)}}},
			want: conditions(ok, ok, ok, ok),
		},
		{
			name: "ready with the CA from a Secret", edit: caSource("Secret"),
			objs: []client.Object{goodSecret, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ca"}, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"ca.crt": ca}}},
			want: conditions(ok, ok, ok, ok),
		},
		{name: "secret not found", want: conditions("False SecretNotFound", ok, ok, ok), wantMessage: `"client" not found`},
		{name: "secret of the wrong type", objs: []client.Object{clientSecret("Opaque", nil)}, want: conditions("False SecretWrongType", ok, ok, ok)},
		{
			name: "secret missing a key", objs: []client.Object{clientSecret(idpv1alpha1.SecretTypeOIDCClient, map[string][]byte{"clientID": []byte("x")})},
			want: conditions("False SecretMissingKeys", ok, ok, ok),
		},
		{
			name: "disallowed authorize parameters",
			edit: func(idp *idpv1alpha1.OIDCIdentityProvider) {
				idp.Spec.AuthorizationConfig.AdditionalAuthorizeParameters = []idpv1alpha1.Parameter{{Name: "prompt", Value: "x"}, {Name: "hd", Value: "y"}, {Name: "scope", Value: "z"}}
			},
			objs: []client.Object{goodSecret}, want: conditions(ok, ok, "False DisallowedParameterName", ok), wantMessage: "hd,scope",
		},
		{
			name: "invalid inline CA",
			edit: func(idp *idpv1alpha1.OIDCIdentityProvider) { idp.Spec.TLS.CertificateAuthorityData = "%%%" },
			objs: []client.Object{goodSecret}, want: conditions(ok, "Unknown UnableToValidate", ok, "False InvalidTLSConfig"),
		},
		{
			name: "CA ConfigMap missing", edit: caSource("ConfigMap"), objs: []client.Object{goodSecret},
			want: conditions(ok, "Unknown UnableToValidate", ok, "False InvalidTLSConfig"),
		},
		{
			name: "unreachable issuer", issuer: "https://" + closedPort(t), objs: []client.Object{goodSecret},
			want: conditions(ok, "False Unreachable", ok, ok), wantRequeue: true,
		},
		{
			name: "untrusted certificate", edit: func(idp *idpv1alpha1.OIDCIdentityProvider) { idp.Spec.TLS = nil },
			objs: []client.Object{goodSecret}, want: conditions(ok, "False Unreachable", ok, ok), wantMessage: "certificate", wantRequeue: true,
		},
		{
			name: "no discovery document", issuer: f.issuer() + "/nothing-here", objs: []client.Object{goodSecret},
			want: conditions(ok, "False InvalidResponse", ok, ok), wantMessage: "404", wantRequeue: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			issuer := tc.issuer
			if issuer == "" {
				issuer = f.issuer()
			}
			env := newEnv(t, nil, append([]client.Object{testIDP(issuer, ca, tc.edit)}, tc.objs...)...)
			res := env.reconcile(t)
			idp := env.get(t)
			if diff := cmp.Diff(tc.want, summary(t, idp)); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			wantReady := cmp.Equal(tc.want, conditions(ok, ok, ok, ok))
			wantPhase := idpv1alpha1.OIDCPhaseError
			if wantReady {
				wantPhase = idpv1alpha1.OIDCPhaseReady
			}
			if idp.Status.Phase != wantPhase {
				t.Errorf("phase = %q, want %q", idp.Status.Phase, wantPhase)
			}
			if tc.wantMessage != "" && !strings.Contains(messages(idp), tc.wantMessage) {
				t.Errorf("messages %q do not contain %q", messages(idp), tc.wantMessage)
			}
			if got := res.RequeueAfter > 0; got != tc.wantRequeue {
				t.Errorf("RequeueAfter = %v, want requeue %v", res.RequeueAfter, tc.wantRequeue)
			}
			p, stored := env.registry.Get(idpKey())
			if stored != wantReady {
				t.Fatalf("stored in registry = %v, want %v", stored, wantReady)
			}
			if !stored {
				return
			}
			if _, isPassword := p.(upstream.PasswordIdentityProvider); isPassword != tc.wantPassword {
				t.Errorf("PasswordIdentityProvider = %v, want %v", isPassword, tc.wantPassword)
			}
			if p.Namespace() != ns || p.Name() != "my-idp" || p.UID() != "uid-1" {
				t.Errorf("provider identity = %s/%s %s", p.Namespace(), p.Name(), p.UID())
			}
		})
	}
}

func messages(idp *idpv1alpha1.OIDCIdentityProvider) string {
	var msgs []string
	for _, c := range idp.Status.Conditions {
		msgs = append(msgs, c.Message)
	}
	return strings.Join(msgs, " | ")
}

// TestReconcileLifecycle checks that a provider leaves the registry as soon as its
// resource is not Ready or gone, that unchanged status is not written again, and
// that an unchanged resource keeps its provider without rediscovery.
func TestReconcileLifecycle(t *testing.T) {
	t.Parallel()
	f := newFakeUpstream(t)
	env := newEnv(t, nil, testIDP(f.issuer(), f.caPEM(), nil), clientSecret(idpv1alpha1.SecretTypeOIDCClient, nil))
	ctx := context.Background()

	env.reconcile(t)
	first, stored := env.registry.Get(idpKey())
	if !stored {
		t.Fatal("provider not stored")
	}
	f.srv.Close() // an unchanged resource must not be rediscovered, nor evicted
	env.reconcile(t)
	if again, _ := env.registry.Get(idpKey()); again != first {
		t.Errorf("provider replaced on an unchanged reconcile: %v", again)
	}
	if n := env.statusWrites.Load(); n != 1 {
		t.Errorf("status writes = %d, want 1", n)
	}

	if err := env.client.Delete(ctx, clientSecret("", nil)); err != nil {
		t.Fatal(err)
	}
	env.reconcile(t)
	if _, stored := env.registry.Get(idpKey()); stored {
		t.Error("provider kept after its Secret was deleted")
	}
	if idp := env.get(t); idp.Status.Phase != idpv1alpha1.OIDCPhaseError {
		t.Errorf("phase = %q, want Error", idp.Status.Phase)
	}

	env.registry.Set(idpKey(), first)
	if err := env.client.Delete(ctx, testIDP("", nil, nil)); err != nil {
		t.Fatal(err)
	}
	env.reconcile(t)
	if _, stored := env.registry.Get(idpKey()); stored {
		t.Error("provider kept after its resource was deleted")
	}
}

func TestReconcileTransientError(t *testing.T) {
	t.Parallel()
	f := newFakeUpstream(t)
	funcs := &interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
		if _, isSecret := obj.(*corev1.Secret); isSecret {
			return errors.New("api down")
		}
		return c.Get(ctx, key, obj, opts...)
	}}
	env := newEnv(t, funcs, testIDP(f.issuer(), f.caPEM(), nil))
	_, err := env.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: "my-idp"}})
	if err == nil || !strings.Contains(err.Error(), "api down") {
		t.Errorf("Reconcile error = %v, want the API error (to retry)", err)
	}
	if n := env.statusWrites.Load(); n != 0 {
		t.Errorf("status writes = %d, want none", n)
	}
}

func TestReconcileIgnoresOtherNamespaces(t *testing.T) {
	t.Parallel()
	env := newEnv(t, nil)
	env.registry.Set(idpKey(), nil)
	if _, err := env.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: "default", Name: "my-idp"}}); err != nil {
		t.Fatal(err)
	}
	if _, stored := env.registry.Get(idpKey()); !stored {
		t.Error("a request for another namespace changed the registry")
	}
}

func TestRequestsFor(t *testing.T) {
	t.Parallel()
	withCA := testIDP("https://a.example.com", nil, func(idp *idpv1alpha1.OIDCIdentityProvider) {
		idp.Name = "with-ca"
		idp.Spec.Client.SecretName = "other-client"
		idp.Spec.TLS = &idpv1alpha1.TLSSpec{CertificateAuthorityDataSource: &idpv1alpha1.CertificateAuthorityDataSourceSpec{Kind: "ConfigMap", Name: "ca", Key: "k"}}
	})
	env := newEnv(t, nil, testIDP("https://b.example.com", nil, nil), withCA)
	meta := func(namespace, name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: namespace, Name: name}
	}
	tests := []struct {
		name string
		obj  client.Object
		want []string
	}{
		{name: "client secret", obj: &corev1.Secret{ObjectMeta: meta(ns, "client")}, want: []string{"my-idp"}},
		{name: "CA configmap", obj: &corev1.ConfigMap{ObjectMeta: meta(ns, "ca")}, want: []string{"with-ca"}},
		{name: "secret named like the CA configmap", obj: &corev1.Secret{ObjectMeta: meta(ns, "ca")}},
		{name: "configmap named like the client secret", obj: &corev1.ConfigMap{ObjectMeta: meta(ns, "client")}},
	}
	for _, tc := range tests {
		var got []string
		for _, req := range env.r.RequestsFor(context.Background(), tc.obj) {
			got = append(got, req.Name)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: requests (-want +got):\n%s", tc.name, diff)
		}
	}
}
