// SPDX-License-Identifier: Apache-2.0

package ldap_test

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/selkie-dev/selkie/pkg/apis/suffix"
	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/certauthority"
	"github.com/selkie-dev/selkie/pkg/internal/fakeclient"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
	upstreamldap "github.com/selkie-dev/selkie/pkg/supervisor/upstream/ldap"
)

const ns = "selkie-supervisor"

func idpKey() upstream.Key { return upstream.Key{Kind: upstream.KindLDAP, Name: "my-ldap"} }

// testEnv is a fake API server client, counting status writes, a fake directory and a
// reconciler dialing it.
type testEnv struct {
	client       client.Client
	registry     *upstream.Registry
	dir          *fakeDir
	r            *upstreamldap.Reconciler
	statusWrites atomic.Int32
}

func newEnv(t *testing.T, funcs *interceptor.Funcs, objs ...client.Object) *testEnv {
	t.Helper()
	env := &testEnv{registry: upstream.NewRegistry(), dir: newDir()}
	// The reference suffix: the reconciler must not depend on the default group.
	env.client = fakeclient.New(t, fakeclient.Options{Suffix: "pinniped.dev", Status: []client.Object{&idpv1alpha1.LDAPIdentityProvider{}},
		Intercept: funcs, StatusWrites: &env.statusWrites}, objs...)
	env.r = upstreamldap.NewReconciler(upstreamldap.ReconcilerConfig{ControllerConfig: upstream.ControllerConfig{Client: env.client, Registry: env.registry, Namespace: ns, Log: slog.New(slog.DiscardHandler)}, Timeout: 5 * time.Second, Dial: env.dir.dial})
	return env
}

func (e *testEnv) reconcile(t *testing.T) ctrl.Result {
	t.Helper()
	res, err := e.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: "my-ldap"}})
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	return res
}

func (e *testEnv) get(t *testing.T) *idpv1alpha1.LDAPIdentityProvider {
	t.Helper()
	idp := &idpv1alpha1.LDAPIdentityProvider{}
	if err := e.client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "my-ldap"}, idp); err != nil {
		t.Fatal(err)
	}
	return idp
}

func testCA(t *testing.T) []byte {
	t.Helper()
	ca, err := certauthority.New("ldap-test-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca.CertPEM()
}

func testIDP(caPEM []byte, edit func(*idpv1alpha1.LDAPIdentityProvider)) *idpv1alpha1.LDAPIdentityProvider {
	idp := &idpv1alpha1.LDAPIdentityProvider{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "my-ldap", UID: "uid-1", Generation: 2},
		Spec: idpv1alpha1.LDAPIdentityProviderSpec{
			Host: "ldap.example.com",
			TLS:  &idpv1alpha1.TLSSpec{CertificateAuthorityData: base64.StdEncoding.EncodeToString(caPEM)},
			Bind: idpv1alpha1.LDAPIdentityProviderBind{SecretName: "bind"},
			UserSearch: idpv1alpha1.LDAPIdentityProviderUserSearch{Base: usersDN, Filter: "uid={}",
				Attributes: idpv1alpha1.LDAPIdentityProviderUserSearchAttributes{Username: "uid", UID: "uidNumber"}},
			GroupSearch: idpv1alpha1.LDAPIdentityProviderGroupSearch{Base: groupsDN,
				Attributes: idpv1alpha1.LDAPIdentityProviderGroupSearchAttributes{GroupName: "cn"}},
		},
	}
	if edit != nil {
		edit(idp)
	}
	return idp
}

func bindSecret(typ corev1.SecretType, data map[string][]byte) *corev1.Secret {
	if data == nil {
		data = map[string][]byte{"username": []byte(bindDN), "password": []byte(bindPW)}
	}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bind"}, Type: typ, Data: data}
}

// summary renders conditions as type → "Status Reason", checking their generation.
func summary(t *testing.T, idp *idpv1alpha1.LDAPIdentityProvider) map[string]string {
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

func conditions(secret, tls, conn string) map[string]string {
	return map[string]string{
		idpv1alpha1.ConditionBindSecretValid:       secret,
		idpv1alpha1.ConditionTLSConfigurationValid: tls,
		idpv1alpha1.ConditionLDAPConnectionValid:   conn,
	}
}

func messages(idp *idpv1alpha1.LDAPIdentityProvider) string {
	var msgs []string
	for _, c := range idp.Status.Conditions {
		msgs = append(msgs, c.Message)
	}
	return strings.Join(msgs, " | ")
}

const ok = "True Success"

func TestReconcileConditions(t *testing.T) {
	t.Parallel()
	ca := testCA(t)
	good := bindSecret(corev1.SecretTypeBasicAuth, nil)
	unable := "Unknown UnableToValidate"
	tests := []struct {
		name         string
		edit         func(*idpv1alpha1.LDAPIdentityProvider)
		dir          func(*fakeDir)
		objs         []client.Object
		want         map[string]string
		wantMessage  string
		wantRequeue  bool
		wantProtocol upstreamldap.Protocol
	}{
		{name: "ready over LDAPS", objs: []client.Object{good}, want: conditions(ok, ok, ok), wantMessage: "using LDAPS",
			wantProtocol: upstreamldap.LDAPS},
		{name: "ready over StartTLS", objs: []client.Object{good}, want: conditions(ok, ok, ok), wantMessage: "using StartTLS",
			dir:          func(d *fakeDir) { d.dialErr, d.dialErrProto = errors.New("handshake failed"), upstreamldap.LDAPS },
			wantProtocol: upstreamldap.StartTLS},
		{name: "ready with the system roots", objs: []client.Object{good}, want: conditions(ok, ok, ok), wantMessage: "system trust roots",
			edit: func(idp *idpv1alpha1.LDAPIdentityProvider) { idp.Spec.TLS = nil }, wantProtocol: upstreamldap.LDAPS},
		{name: "ready with the CA from a ConfigMap", want: conditions(ok, ok, ok), wantProtocol: upstreamldap.LDAPS,
			edit: func(idp *idpv1alpha1.LDAPIdentityProvider) {
				idp.Spec.TLS = &idpv1alpha1.TLSSpec{CertificateAuthorityDataSource: &idpv1alpha1.CertificateAuthorityDataSourceSpec{Kind: "ConfigMap", Name: "ca", Key: "ca.crt"}}
			},
			objs: []client.Object{good, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ca"}, Data: map[string]string{"ca.crt": string(ca)}}}},
		{name: "secret not found", want: conditions("False SecretNotFound", ok, unable), wantMessage: `"bind" not found`},
		{name: "secret of the wrong type", objs: []client.Object{bindSecret(corev1.SecretTypeOpaque, nil)},
			want: conditions("False SecretWrongType", ok, unable), wantMessage: "kubernetes.io/basic-auth"},
		{name: "secret missing the password", objs: []client.Object{bindSecret(corev1.SecretTypeBasicAuth, map[string][]byte{"username": []byte(bindDN)})},
			want: conditions("False SecretMissingKeys", ok, unable)},
		{name: "invalid inline CA", objs: []client.Object{good}, want: conditions(ok, "False InvalidTLSConfig", unable),
			edit: func(idp *idpv1alpha1.LDAPIdentityProvider) { idp.Spec.TLS.CertificateAuthorityData = "%%%" }},
		{name: "wrong bind password", want: conditions(ok, ok, "False LDAPConnectionError"), wantRequeue: true, wantMessage: "bind as",
			objs: []client.Object{bindSecret(corev1.SecretTypeBasicAuth, map[string][]byte{"username": []byte(bindDN), "password": []byte("nope")})}},
		{name: "server unreachable", objs: []client.Object{good}, want: conditions(ok, ok, "False LDAPConnectionError"), wantRequeue: true,
			dir: func(d *fakeDir) { d.dialErr = errors.New("connection refused") }, wantMessage: "connection refused"},
		{name: "bad host", objs: []client.Object{good}, want: conditions(ok, ok, "False LDAPConnectionError"), wantMessage: "spec.host",
			edit: func(idp *idpv1alpha1.LDAPIdentityProvider) { idp.Spec.Host = "ldaps://ldap.example.com" }},
		{name: "no uid attribute", objs: []client.Object{good}, want: conditions(ok, ok, "False InvalidSearchConfiguration"),
			edit:        func(idp *idpv1alpha1.LDAPIdentityProvider) { idp.Spec.UserSearch.Attributes.UID = "" },
			wantMessage: "spec.userSearch.attributes.uid is required"},
		{name: "bad group filter", objs: []client.Object{good}, want: conditions(ok, ok, "False InvalidSearchConfiguration"),
			edit:        func(idp *idpv1alpha1.LDAPIdentityProvider) { idp.Spec.GroupSearch.Filter = "(member={}" },
			wantMessage: "spec.groupSearch.filter"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t, nil, append([]client.Object{testIDP(ca, tc.edit)}, tc.objs...)...)
			if tc.dir != nil {
				tc.dir(env.dir)
			}
			res := env.reconcile(t)
			idp := env.get(t)
			if diff := cmp.Diff(tc.want, summary(t, idp)); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			wantReady := cmp.Equal(tc.want, conditions(ok, ok, ok))
			wantPhase := idpv1alpha1.LDAPPhaseError
			if wantReady {
				wantPhase = idpv1alpha1.LDAPPhaseReady
			}
			if idp.Status.Phase != wantPhase {
				t.Errorf("phase = %q, want %q", idp.Status.Phase, wantPhase)
			}
			if tc.wantMessage != "" && !strings.Contains(messages(idp), tc.wantMessage) {
				t.Errorf("messages %q do not contain %q", messages(idp), tc.wantMessage)
			}
			if strings.Contains(messages(idp), bindPW) {
				t.Errorf("messages %q contain the bind password", messages(idp))
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
			lp, isLDAP := p.(*upstreamldap.Provider)
			if !isLDAP || lp.Protocol() != tc.wantProtocol || p.Namespace() != ns || p.Name() != "my-ldap" || p.UID() != "uid-1" {
				t.Fatalf("provider %T %s/%s %s", p, p.Namespace(), p.Name(), p.UID())
			}
			// The stored provider works against the directory with the probed protocol.
			env.dir.dialErr = nil
			id, err := lp.Login(context.Background(), "pinny", "pinny-pw")
			if err != nil || id.Username != "pinny" || !cmp.Equal(id.Groups, []string{"pinnipeds", "seals"}) {
				t.Errorf("Login = %+v, %v", id, err)
			}
			if last := env.dir.dials[len(env.dir.dials)-1]; last.Protocol != tc.wantProtocol || last.RootCAs == nil != (idp.Spec.TLS == nil) {
				t.Errorf("login dialed %+v", last)
			}
		})
	}
}

// TestReconcileLifecycle checks that a provider leaves the registry as soon as its
// resource is not Ready or gone, that unchanged status is not written again, that an
// unchanged resource keeps its provider without another probe, and that a changed
// bind Secret is probed again.
func TestReconcileLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := newEnv(t, nil, testIDP(testCA(t), nil), bindSecret(corev1.SecretTypeBasicAuth, nil))

	env.reconcile(t)
	first, stored := env.registry.Get(idpKey())
	if !stored || len(env.dir.dials) != 1 {
		t.Fatalf("stored %v after %d dials", stored, len(env.dir.dials))
	}
	env.dir.dialErr = errors.New("down") // an unchanged resource must not be probed again, nor evicted
	env.reconcile(t)
	if again, _ := env.registry.Get(idpKey()); again != first || len(env.dir.dials) != 1 {
		t.Errorf("provider replaced (%v) or probed again (%d dials) on an unchanged reconcile", again != first, len(env.dir.dials))
	}
	if n := env.statusWrites.Load(); n != 1 {
		t.Errorf("status writes = %d, want 1", n)
	}

	// A new bind password is a new configuration: it is probed, and fails while the
	// server is down.
	secret := bindSecret(corev1.SecretTypeBasicAuth, map[string][]byte{"username": []byte(bindDN), "password": []byte("rotated")})
	if err := env.client.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if res := env.reconcile(t); res.RequeueAfter == 0 {
		t.Error("no requeue after a failed probe")
	}
	if _, stored := env.registry.Get(idpKey()); stored {
		t.Error("provider kept after its new configuration failed")
	}
	if idp := env.get(t); idp.Status.Phase != idpv1alpha1.LDAPPhaseError {
		t.Errorf("phase = %q, want Error", idp.Status.Phase)
	}

	env.registry.Set(idpKey(), first)
	if err := env.client.Delete(ctx, testIDP(nil, nil)); err != nil {
		t.Fatal(err)
	}
	env.reconcile(t)
	if _, stored := env.registry.Get(idpKey()); stored {
		t.Error("provider kept after its resource was deleted")
	}
}

func TestReconcileTransientError(t *testing.T) {
	t.Parallel()
	funcs := &interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
		if _, isSecret := obj.(*corev1.Secret); isSecret {
			return errors.New("api down")
		}
		return c.Get(ctx, key, obj, opts...)
	}}
	env := newEnv(t, funcs, testIDP(testCA(t), nil))
	_, err := env.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: "my-ldap"}})
	if err == nil || !strings.Contains(err.Error(), "api down") {
		t.Errorf("Reconcile error = %v, want the API error (to retry)", err)
	}
	if n := env.statusWrites.Load(); n != 0 {
		t.Errorf("status writes = %d, want none", n)
	}
}

func TestRequestsFor(t *testing.T) {
	t.Parallel()
	withCA := testIDP(nil, func(idp *idpv1alpha1.LDAPIdentityProvider) {
		idp.Name = "with-ca"
		idp.Spec.Bind.SecretName = "other-bind"
		idp.Spec.TLS = &idpv1alpha1.TLSSpec{CertificateAuthorityDataSource: &idpv1alpha1.CertificateAuthorityDataSourceSpec{Kind: "Secret", Name: "ca", Key: "k"}}
	})
	env := newEnv(t, nil, testIDP(nil, nil), withCA)
	meta := func(namespace, name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: namespace, Name: name}
	}
	tests := []struct {
		name string
		obj  client.Object
		want []string
	}{
		{name: "bind secret", obj: &corev1.Secret{ObjectMeta: meta(ns, "bind")}, want: []string{"my-ldap"}},
		{name: "CA secret", obj: &corev1.Secret{ObjectMeta: meta(ns, "ca")}, want: []string{"with-ca"}},
		{name: "configmap named like the CA secret", obj: &corev1.ConfigMap{ObjectMeta: meta(ns, "ca")}},
		{name: "configmap named like the bind secret", obj: &corev1.ConfigMap{ObjectMeta: meta(ns, "bind")}},
		{name: "bind secret in another namespace", obj: &corev1.Secret{ObjectMeta: meta("default", "bind")}},
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

// TestSetupWithManager checks that the controller registers with a manager whose
// scheme uses a non-default group suffix (nothing is started).
func TestSetupWithManager(t *testing.T) {
	t.Parallel()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := suffix.AddToScheme(s, "pinniped.dev"); err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(&rest.Config{Host: "https://" + closedPort(t)}, ctrl.Options{
		// Controller names are process-global: let `go test -count=N` build it again.
		Controller: config.Controller{SkipNameValidation: new(true)},
		Scheme:     s, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
	})
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	r := upstreamldap.NewReconciler(upstreamldap.ReconcilerConfig{ControllerConfig: upstream.ControllerConfig{Client: mgr.GetClient(), Registry: upstream.NewRegistry(), Namespace: ns}})
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatalf("SetupWithManager: %v", err)
	}
}
