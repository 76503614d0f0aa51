// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"

	"github.com/selkie-dev/selkie/pkg/certauthority"
)

// kubeClientToken is the fake API server's credential for the proxy's own Kubernetes
// client (TokenReview, SubjectAccessReview, the client CA ConfigMap).
const kubeClientToken = "kube-client-token"

// policy answers a SubjectAccessReview: allowed, and the reason.
type policy func(spec authorizationv1.SubjectAccessReviewSpec) (bool, string)

// fakeAPI is an HTTPS "kube-apiserver" on loopback: it answers the proxy's own requests
// (anonymous /healthz, TokenReviews, SubjectAccessReviews, the client CA ConfigMap) and
// records everything else, which is what the proxy forwarded.
type fakeAPI struct {
	srv       *httptest.Server
	clusterCA *certauthority.CA

	mu      sync.Mutex
	healthz int
	// anonymousElsewhere is the answer to requests without credentials on other paths
	// than /healthz: 0 accepts them as system:anonymous when healthz does not say 401
	// (and then the backend answers), 401 refuses them (an AuthenticationConfiguration
	// that allows anonymous requests on health paths only).
	anonymousElsewhere int
	tokens             map[string]authenticationv1.UserInfo
	authorize          policy
	backend            http.HandlerFunc
	forwarded          []*http.Request
	sars               []authorizationv1.SubjectAccessReviewSpec
	// tokenReviews counts TokenReviews.
	tokenReviews int
}

func newFakeAPI(t testing.TB) *fakeAPI {
	t.Helper()
	clusterCA, err := certauthority.New("fake-cluster-ca", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeAPI{
		clusterCA: clusterCA,
		healthz:   http.StatusUnauthorized,
		tokens:    map[string]authenticationv1.UserInfo{},
		authorize: func(authorizationv1.SubjectAccessReviewSpec) (bool, string) { return false, "" },
		backend: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Success"}`))
		},
	}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.EnableHTTP2 = true
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

// config is how the proxy reaches the fake: no credentials, only the CA.
func (f *fakeAPI) config() *rest.Config {
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	return &rest.Config{Host: f.srv.URL, TLSClientConfig: rest.TLSClientConfig{CAData: caPEM}}
}

// kubeConfig is the proxy's Kubernetes client configuration.
func (f *fakeAPI) kubeConfig() *rest.Config {
	cfg := f.config()
	cfg.BearerToken = kubeClientToken
	return cfg
}

func (f *fakeAPI) set(fn func(f *fakeAPI)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeAPI) requests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.forwarded...)
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") == "Bearer "+kubeClientToken {
		f.serveKubeClient(w, r)
		return
	}
	if r.URL.Path == "/healthz" && r.Header.Get("Authorization") == "" {
		f.mu.Lock()
		code := f.healthz
		f.mu.Unlock()
		w.WriteHeader(code)
		return
	}
	f.mu.Lock()
	recorded := r.Clone(r.Context())
	f.forwarded = append(f.forwarded, recorded)
	backend := f.backend
	refuse := 0
	if r.Header.Get("Authorization") == "" {
		switch {
		case f.anonymousElsewhere != 0:
			refuse = f.anonymousElsewhere
		case f.healthz == http.StatusUnauthorized:
			refuse = http.StatusUnauthorized
		case r.Header.Get("Impersonate-User") != "":
			refuse = http.StatusForbidden // system:anonymous may not impersonate
		}
	}
	f.mu.Unlock()
	if refuse != 0 {
		w.WriteHeader(refuse)
		return
	}
	backend(w, r)
}

func (f *fakeAPI) serveKubeClient(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/apis/authentication.k8s.io/v1/tokenreviews":
		var review authenticationv1.TokenReview
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		info, ok := f.tokens[review.Spec.Token]
		f.tokenReviews++
		f.mu.Unlock()
		review.Status = authenticationv1.TokenReviewStatus{Authenticated: ok, User: info}
		writeJSON(w, &review)
	case "/apis/authorization.k8s.io/v1/subjectaccessreviews":
		var review authorizationv1.SubjectAccessReview
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.sars = append(f.sars, review.Spec)
		authorize := f.authorize
		f.mu.Unlock()
		review.Status.Allowed, review.Status.Reason = authorize(review.Spec)
		review.Status.Denied = !review.Status.Allowed
		writeJSON(w, &review)
	case "/api/v1/namespaces/kube-system/configmaps":
		f.serveClientCA(w, r)
	default:
		http.NotFound(w, r)
	}
}

// serveClientCA answers the client CA follower's list and watch (including the
// watch-list form with initial events), then holds the watch open.
func (f *fakeAPI) serveClientCA(w http.ResponseWriter, r *http.Request) {
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: clientCAConfigMap, Namespace: clientCANamespace, ResourceVersion: "10"},
		Data:       map[string]string{clientCAKey: string(f.clusterCA.CertPEM())},
	}
	q := r.URL.Query()
	if q.Get("watch") != "true" {
		writeJSON(w, &corev1.ConfigMapList{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMapList"},
			ListMeta: metav1.ListMeta{ResourceVersion: "10"},
			Items:    []corev1.ConfigMap{*cm},
		})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if q.Get("sendInitialEvents") == "true" {
		bookmark := &corev1.ConfigMap{TypeMeta: cm.TypeMeta, ObjectMeta: metav1.ObjectMeta{
			ResourceVersion: "10", Annotations: map[string]string{metav1.InitialEventsAnnotationKey: "true"}}}
		writeEvent(w, "ADDED", cm)
		writeEvent(w, "BOOKMARK", bookmark)
	}
	http.NewResponseController(w).Flush()
	<-r.Context().Done()
}

func writeEvent(w http.ResponseWriter, typ string, obj runtime.Object) {
	raw, _ := json.Marshal(obj)
	_ = json.NewEncoder(w).Encode(&metav1.WatchEvent{Type: typ, Object: runtime.RawExtension{Raw: raw}})
}

func writeJSON(w http.ResponseWriter, obj any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(obj)
}
