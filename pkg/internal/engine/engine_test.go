// SPDX-License-Identifier: Apache-2.0

package engine

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/apis/suffix"
	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/internal/fakeclient"
	"github.com/selkie-dev/selkie/pkg/tlsconfig"
)

const testNamespace = "selkie"

// recordingStore is a Store that keeps what it holds and counts its writes.
type recordingStore struct {
	values  map[string]string
	sets    int
	deletes int
}

func (s *recordingStore) Set(key, value string) { s.values[key] = value; s.sets++ }
func (s *recordingStore) Delete(key string)     { delete(s.values, key); s.deletes++ }

// outcome is what the test kind's Validate answers next.
type outcome struct {
	ok, retry bool
	build     string // value to build, with fingerprint "fp-"+build; "" builds nothing
}

type webhookTest struct {
	client  client.Client
	store   *recordingStore
	engine  *Engine[*authenticationv1alpha1.WebhookAuthenticator, string, string]
	next    outcome
	current *Current[string] // what Validate was last given
	ready   *prometheus.GaugeVec
}

// readiness is the Ready gauge of object "a", or -1 without a series.
func (w *webhookTest) readiness(t *testing.T) float64 {
	t.Helper()
	if testutil.CollectAndCount(w.ready) == 0 {
		return -1
	}
	return testutil.ToFloat64(w.ready.WithLabelValues("WebhookAuthenticator", "a"))
}

// newWebhookTest returns an engine of a cluster-scoped kind whose validation the test
// scripts through next.
func newWebhookTest(t *testing.T, objs ...client.Object) *webhookTest {
	t.Helper()
	w := &webhookTest{store: &recordingStore{values: map[string]string{}},
		ready: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "test_ready"}, []string{"kind", "name"})}
	w.client = fakeclient.New(t, fakeclient.Options{Suffix: suffix.Default,
		Status: []client.Object{&authenticationv1alpha1.WebhookAuthenticator{}}}, objs...)
	w.engine = New(Kind[*authenticationv1alpha1.WebhookAuthenticator, string, string]{
		Name: "WebhookAuthenticator", Controller: "test", Noun: "test authenticator", ReadyMessage: "ready!",
		Key: func(name string) string { return "key/" + name },
		Objects: ObjectsOf(func(l *authenticationv1alpha1.WebhookAuthenticatorList) []authenticationv1alpha1.WebhookAuthenticator {
			return l.Items
		}),
		Validate: func(_ context.Context, _ *authenticationv1alpha1.WebhookAuthenticator, current *Current[string]) (*Validation[string], error) {
			w.current = current
			v := NewValidation[string]()
			v.Retry = w.next.retry
			v.Add("Checked", w.next.ok, "Because", "scripted")
			if w.next.build != "" {
				v.Build(w.next.build, "fp-"+w.next.build)
			}
			return v, nil
		},
		Describe: func(*authenticationv1alpha1.WebhookAuthenticator, string) []any { return nil },
		SetStatus: Phase(authenticationv1alpha1.WebhookAuthenticatorPhaseReady, authenticationv1alpha1.WebhookAuthenticatorPhaseError,
			func(o *authenticationv1alpha1.WebhookAuthenticator) (*authenticationv1alpha1.WebhookAuthenticatorPhase, *[]metav1.Condition) {
				return &o.Status.Phase, &o.Status.Conditions
			}),
		Status: func(o *authenticationv1alpha1.WebhookAuthenticator) any { return o.Status },
		References: func(o *authenticationv1alpha1.WebhookAuthenticator) (string, tlsconfig.Spec) {
			return "", tlsconfig.FromConcierge(o.Spec.TLS)
		},
	}, Config[string, string]{Client: w.client, Store: w.store, Namespace: testNamespace,
		Log: slog.New(slog.DiscardHandler), Ready: w.ready})
	return w
}

func (w *webhookTest) reconcile(t *testing.T, next outcome) time.Duration {
	t.Helper()
	w.next = next
	res, err := w.engine.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Name: "a"}})
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	return res.RequeueAfter
}

func (w *webhookTest) status(t *testing.T) authenticationv1alpha1.WebhookAuthenticatorStatus {
	t.Helper()
	var got authenticationv1alpha1.WebhookAuthenticator
	if err := w.client.Get(context.Background(), client.ObjectKey{Name: "a"}, &got); err != nil {
		t.Fatal(err)
	}
	return got.Status
}

func TestEngineStoresOnlyWhatIsNewAndRemovesWhatBroke(t *testing.T) {
	t.Parallel()
	w := newWebhookTest(t, &authenticationv1alpha1.WebhookAuthenticator{ObjectMeta: metav1.ObjectMeta{Name: "a", Generation: 3}})

	if got := w.readiness(t); got != -1 {
		t.Fatalf("readiness before any reconcile = %v", got)
	}
	w.reconcile(t, outcome{ok: true, build: "one"})
	if got := w.readiness(t); got != 1 {
		t.Errorf("readiness after a good validation = %v, want 1", got)
	}
	if w.current != nil || w.store.values["key/a"] != "one" {
		t.Fatalf("first reconcile: given %v, store %v; want nothing given and one stored", w.current, w.store.values)
	}
	st := w.status(t)
	if st.Phase != authenticationv1alpha1.WebhookAuthenticatorPhaseReady || len(st.Conditions) != 2 ||
		st.Conditions[1].Type != ConditionReady || st.Conditions[1].Message != "ready!" || st.Conditions[0].ObservedGeneration != 3 {
		t.Errorf("status after a good validation = %+v", st)
	}

	// An unchanged configuration builds nothing: the store is not written.
	w.reconcile(t, outcome{ok: true})
	if !w.current.Matches("fp-one") || w.current.Matches("") || w.store.sets != 1 {
		t.Errorf("unchanged: given %+v, %d sets; want one's fingerprint and no new set", w.current, w.store.sets)
	}
	w.reconcile(t, outcome{ok: true, build: "two"})
	if w.store.values["key/a"] != "two" || w.store.sets != 2 {
		t.Errorf("changed: store %v after %d sets, want two", w.store.values, w.store.sets)
	}

	// A broken configuration is removed at once, even when it built something.
	w.reconcile(t, outcome{ok: false, build: "three"})
	if _, ok := w.store.values["key/a"]; ok || w.store.deletes != 1 {
		t.Errorf("broken: store %v, %d deletes; want the key removed once", w.store.values, w.store.deletes)
	}
	if st := w.status(t); st.Phase != authenticationv1alpha1.WebhookAuthenticatorPhaseError || st.Conditions[1].Reason != ReasonNotReady {
		t.Errorf("status after a failed validation = %+v", st)
	}
	if got := w.readiness(t); got != 0 {
		t.Errorf("readiness after a failed validation = %v, want 0", got)
	}
	w.reconcile(t, outcome{ok: false})
	if w.current != nil {
		t.Errorf("still broken: given %v, want nothing", w.current)
	}

	// Deleting the object removes its value.
	w.reconcile(t, outcome{ok: true, build: "four"})
	if err := w.client.Delete(context.Background(), &authenticationv1alpha1.WebhookAuthenticator{ObjectMeta: metav1.ObjectMeta{Name: "a"}}); err != nil {
		t.Fatal(err)
	}
	w.reconcile(t, outcome{})
	if len(w.store.values) != 0 {
		t.Errorf("deleted object: store %v", w.store.values)
	}
	if got := w.readiness(t); got != -1 {
		t.Errorf("readiness of a deleted object = %v, want no series", got)
	}
}

func TestEngineBacksOffOnlyWhileRetrying(t *testing.T) {
	t.Parallel()
	w := newWebhookTest(t, &authenticationv1alpha1.WebhookAuthenticator{ObjectMeta: metav1.ObjectMeta{Name: "a"}})
	if got := w.reconcile(t, outcome{ok: false}); got != 0 {
		t.Errorf("a configuration error requeued after %v; it waits for a change", got)
	}
	first, second := w.reconcile(t, outcome{retry: true}), w.reconcile(t, outcome{retry: true})
	if first != time.Second || second != 2*time.Second {
		t.Errorf("retry delays %v, %v; want 1s then 2s", first, second)
	}
	if got := w.reconcile(t, outcome{ok: true, build: "x"}); got != 0 {
		t.Errorf("success requeued after %v", got)
	}
	if got := w.reconcile(t, outcome{retry: true}); got != time.Second {
		t.Errorf("first retry after a success waits %v, want 1s again", got)
	}
}

func TestEngineSkipsUnchangedStatus(t *testing.T) {
	t.Parallel()
	w := newWebhookTest(t, &authenticationv1alpha1.WebhookAuthenticator{ObjectMeta: metav1.ObjectMeta{Name: "a"}})
	w.reconcile(t, outcome{ok: true, build: "x"})
	before := w.status(t)
	var obj authenticationv1alpha1.WebhookAuthenticator
	if err := w.client.Get(context.Background(), client.ObjectKey{Name: "a"}, &obj); err != nil {
		t.Fatal(err)
	}
	w.reconcile(t, outcome{ok: true})
	var after authenticationv1alpha1.WebhookAuthenticator
	if err := w.client.Get(context.Background(), client.ObjectKey{Name: "a"}, &after); err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != obj.ResourceVersion {
		t.Errorf("an unchanged status was written again (resourceVersion %s -> %s; status %+v)", obj.ResourceVersion, after.ResourceVersion, before)
	}
}

func TestRequestsForCABundleSources(t *testing.T) {
	t.Parallel()
	tls := func(kind, name string) *authenticationv1alpha1.TLSSpec {
		return &authenticationv1alpha1.TLSSpec{CertificateAuthorityDataSource: &authenticationv1alpha1.CertificateAuthorityDataSourceSpec{
			Kind: authenticationv1alpha1.CertificateAuthorityDataSourceKind(kind), Name: name, Key: "ca.crt"}}
	}
	w := newWebhookTest(t,
		&authenticationv1alpha1.WebhookAuthenticator{ObjectMeta: metav1.ObjectMeta{Name: "by-secret"},
			Spec: authenticationv1alpha1.WebhookAuthenticatorSpec{TLS: tls("Secret", "ca")}},
		&authenticationv1alpha1.WebhookAuthenticator{ObjectMeta: metav1.ObjectMeta{Name: "by-configmap"},
			Spec: authenticationv1alpha1.WebhookAuthenticatorSpec{TLS: tls("ConfigMap", "ca")}},
		&authenticationv1alpha1.WebhookAuthenticator{ObjectMeta: metav1.ObjectMeta{Name: "inline"}})
	for _, tc := range []struct {
		obj  client.Object
		want string
	}{
		{&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "ca"}}, "by-secret"},
		{&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "ca"}}, "by-configmap"},
		{&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "elsewhere", Name: "ca"}}, ""},
		{&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "other"}}, ""},
	} {
		reqs := w.engine.RequestsFor(context.Background(), tc.obj)
		switch {
		case tc.want == "" && len(reqs) != 0:
			t.Errorf("%T %s/%s maps to %v, want none", tc.obj, tc.obj.GetNamespace(), tc.obj.GetName(), reqs)
		case tc.want != "" && (len(reqs) != 1 || reqs[0].Name != tc.want):
			t.Errorf("%T %s/%s maps to %v, want %s", tc.obj, tc.obj.GetNamespace(), tc.obj.GetName(), reqs, tc.want)
		}
	}
}

// TestNamespacedKind checks a namespaced kind ignores objects elsewhere and maps the
// Secret its objects name for credentials.
func TestNamespacedKind(t *testing.T) {
	t.Parallel()
	idp := func(ns string) *idpv1alpha1.OIDCIdentityProvider {
		return &idpv1alpha1.OIDCIdentityProvider{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "a"},
			Spec: idpv1alpha1.OIDCIdentityProviderSpec{Client: idpv1alpha1.OIDCClient{SecretName: "creds"}}}
	}
	c := fakeclient.New(t, fakeclient.Options{Suffix: suffix.Default, Status: []client.Object{&idpv1alpha1.OIDCIdentityProvider{}}},
		idp(testNamespace), idp("elsewhere"))
	store := &recordingStore{values: map[string]string{}}
	validated := 0
	e := New(Kind[*idpv1alpha1.OIDCIdentityProvider, string, string]{
		Name: "OIDCIdentityProvider", Controller: "test", Noun: "test provider", Namespaced: true,
		Key:     func(name string) string { return name },
		Objects: ObjectsOf(func(l *idpv1alpha1.OIDCIdentityProviderList) []idpv1alpha1.OIDCIdentityProvider { return l.Items }),
		Validate: func(context.Context, *idpv1alpha1.OIDCIdentityProvider, *Current[string]) (*Validation[string], error) {
			validated++
			v := NewValidation[string]()
			v.Build("p", "fp")
			return v, nil
		},
		Describe:  func(*idpv1alpha1.OIDCIdentityProvider, string) []any { return nil },
		SetStatus: func(o *idpv1alpha1.OIDCIdentityProvider, _ bool) *[]metav1.Condition { return &o.Status.Conditions },
		Status:    func(o *idpv1alpha1.OIDCIdentityProvider) any { return o.Status },
		References: func(o *idpv1alpha1.OIDCIdentityProvider) (string, tlsconfig.Spec) {
			return o.Spec.Client.SecretName, tlsconfig.Spec{}
		},
	}, Config[string, string]{Client: c, Store: store, Namespace: testNamespace, Log: slog.New(slog.DiscardHandler)})

	if _, err := e.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: "elsewhere", Name: "a"}}); err != nil || validated != 0 {
		t.Fatalf("an object of another namespace: err %v, validated %d times", err, validated)
	}
	if _, err := e.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: testNamespace, Name: "a"}}); err != nil || store.values["a"] != "p" {
		t.Fatalf("an object of the namespace: err %v, store %v", err, store.values)
	}
	reqs := e.RequestsFor(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: "creds"}})
	if len(reqs) != 1 || reqs[0].Namespace != testNamespace || reqs[0].Name != "a" {
		t.Errorf("the credentials Secret maps to %v", reqs)
	}
}
