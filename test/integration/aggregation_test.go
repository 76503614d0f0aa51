// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"

	"github.com/selkie-dev/selkie/test/env"
)

const smokeGroup = "smoke.selkie.dev"

// seenIdentity is what the loopback API server was told about a caller.
type seenIdentity struct {
	ProxyCN string   `json:"proxyCN"`
	User    string   `json:"user"`
	Groups  []string `json:"groups"`
}

// smokeAPIServer is a tiny aggregated API server: it trusts only the front-proxy CA, as
// k8s.io/apiserver's delegated authentication does, and echoes the requestheader identity.
type smokeAPIServer struct {
	allowedNames []string
	mu           sync.Mutex
	rejected     int
}

func (s *smokeAPIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || !slices.Contains(s.allowedNames, r.TLS.VerifiedChains[0][0].Subject.CommonName) {
		s.mu.Lock()
		s.rejected++
		s.mu.Unlock()
		http.Error(w, "front-proxy client certificate required", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/apis/" + smokeGroup + "/v1alpha1":
		_ = json.NewEncoder(w).Encode(metav1.APIResourceList{
			TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
			GroupVersion: smokeGroup + "/v1alpha1",
			APIResources: []metav1.APIResource{{Name: "whoamis", Kind: "WhoAmI", Verbs: []string{"get", "list"}}},
		})
	case "/apis/" + smokeGroup + "/v1alpha1/whoamis":
		_ = json.NewEncoder(w).Encode(seenIdentity{
			ProxyCN: r.TLS.VerifiedChains[0][0].Subject.CommonName,
			User:    r.Header.Get("X-Remote-User"),
			Groups:  r.Header.Values("X-Remote-Group"),
		})
	default:
		http.NotFound(w, r)
	}
}

// TestAPIServiceReachesLoopbackServer registers a process on loopback as an aggregated
// API (APIService → ExternalName Service "localhost"), the wiring the concierge and
// supervisor use out of cluster, and checks the caller's identity arrives in the headers.
func TestAPIServiceReachesLoopbackServer(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	client := adminClient(t)
	authCM, err := client.CoreV1().ConfigMaps("kube-system").Get(ctx, "extension-apiserver-authentication", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	frontProxyCAs := x509.NewCertPool()
	if !frontProxyCAs.AppendCertsFromPEM([]byte(authCM.Data["requestheader-client-ca-file"])) {
		t.Fatal("no requestheader-client-ca-file in extension-apiserver-authentication")
	}
	srv := &smokeAPIServer{}
	if err := json.Unmarshal([]byte(authCM.Data["requestheader-allowed-names"]), &srv.allowedNames); err != nil {
		t.Fatalf("requestheader-allowed-names: %v", err)
	}

	ns, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "smoke-api-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}) })

	// The aggregator verifies the serving certificate for <service>.<namespace>.svc.
	pki := t.TempDir()
	ca, err := env.NewCA(pki, "ca", "smoke-api-ca")
	if err != nil {
		t.Fatal(err)
	}
	serving, err := ca.Issue("serving", env.ServerAuth, "smoke-api", nil, "smoke-api."+ns.Name+".svc")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(serving.CertFile, serving.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{cert}, ClientCAs: frontProxyCAs,
		ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS12,
	})
	if err != nil {
		t.Fatal(err)
	}
	server := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = server.Serve(ln) }()
	t.Cleanup(func() { _ = server.Close() })
	port := ln.Addr().(*net.TCPAddr).Port

	if _, err := client.CoreV1().Services(ns.Name).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke-api"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	agg := aggregator.NewForConfigOrDie(adminConfig(t, testEnv.Management().Kubeconfig))
	apiService := &apiregistrationv1.APIService{
		ObjectMeta: metav1.ObjectMeta{Name: "v1alpha1." + smokeGroup},
		Spec: apiregistrationv1.APIServiceSpec{
			Group: smokeGroup, Version: "v1alpha1", GroupPriorityMinimum: 9900, VersionPriority: 15,
			CABundle: ca.CertPEM,
			Service:  &apiregistrationv1.ServiceReference{Namespace: ns.Name, Name: "smoke-api", Port: ptr(int32(port))},
		},
	}
	_ = agg.ApiregistrationV1().APIServices().Delete(ctx, apiService.Name, metav1.DeleteOptions{}) // leftover of an aborted run
	if _, err := agg.ApiregistrationV1().APIServices().Create(ctx, apiService, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = agg.ApiregistrationV1().APIServices().Delete(ctx, apiService.Name, metav1.DeleteOptions{}) })
	created := time.Now()
	eventually(t, 30*time.Second, "APIService Available", func() (bool, error) {
		got, err := agg.ApiregistrationV1().APIServices().Get(ctx, apiService.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiregistrationv1.Available {
				return c.Status == apiregistrationv1.ConditionTrue, fmt.Errorf("%s: %s", c.Reason, c.Message)
			}
		}
		return false, nil
	})
	t.Logf("APIService Available %s after creation", time.Since(created).Round(time.Millisecond))

	path := "/apis/" + smokeGroup + "/v1alpha1/whoamis"
	assertSeen(t, seenIdentity{ProxyCN: "front-proxy-client", User: "admin", Groups: []string{"system:masters", "system:authenticated"}},
		mustKubectl(t, "get", "--raw", path))

	// An impersonated caller, once RBAC allows it, arrives as itself.
	grantSmokeReader(t, "devs")
	eventually(t, 15*time.Second, "alice/devs reaches the loopback server", func() (bool, error) {
		out, errOut, err := kubectl(t, "--as=alice", "--as-group=devs", "get", "--raw", path)
		if err != nil {
			return false, fmt.Errorf("%v: %s", err, errOut)
		}
		assertSeen(t, seenIdentity{ProxyCN: "front-proxy-client", User: "alice", Groups: []string{"devs", "system:authenticated"}}, out)
		return true, nil
	})
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.rejected > 0 {
		t.Logf("the loopback server rejected %d request(s) without a front-proxy certificate", srv.rejected)
	}
}

func assertSeen(t testing.TB, want seenIdentity, raw string) {
	t.Helper()
	var got seenIdentity
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("response %q: %v", raw, err)
	}
	if got.ProxyCN != want.ProxyCN || got.User != want.User || strings.Join(got.Groups, ",") != strings.Join(want.Groups, ",") {
		t.Errorf("loopback server saw %+v, want %+v", got, want)
	}
}

func grantSmokeReader(t testing.TB, group string) {
	t.Helper()
	ctx := testContext(t)
	client := adminClient(t)
	name := "smoke-whoami-reader-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if _, err := client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{smokeGroup}, Resources: []string{"whoamis"}, Verbs: []string{"get", "list"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: group}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = client.RbacV1().ClusterRoleBindings().Delete(ctx, name, metav1.DeleteOptions{})
		_ = client.RbacV1().ClusterRoles().Delete(ctx, name, metav1.DeleteOptions{})
	})
}

func ptr[T any](v T) *T { return &v }

// TestAggregatedOpenAPI checks the OpenAPI the concierge publishes through the
// aggregator, as kubectl reads it: the login kind's fields, including those of the
// Kubernetes core type it references (TypedLocalObjectReference), whose definition is
// kept when the other core types are left out of the server's definitions.
func TestAggregatedOpenAPI(t *testing.T) {
	t.Parallel()
	c := sharedConcierge(t)
	kubeconfig := testEnv.Clusters[c.cluster].Kubeconfig
	var out string
	eventually(t, 60*time.Second, "kubectl explain of TokenCredentialRequest's authenticator", func() (bool, error) {
		var errOut string
		var err error
		out, errOut, err = kubectlWith(t, kubeconfig, "explain", "tokencredentialrequests.spec.authenticator",
			"--api-version", "login.concierge.selkie.dev/v1alpha1")
		return err == nil, fmt.Errorf("%v: %s", err, errOut)
	})
	for _, field := range []string{"apiGroup\t<string>", "kind\t<string> -required-", "name\t<string> -required-"} {
		if !strings.Contains(out, field) {
			t.Errorf("kubectl explain shows no %q:\n%s", field, out)
		}
	}
}
