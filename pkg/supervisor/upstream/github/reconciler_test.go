// SPDX-License-Identifier: Apache-2.0

package github_test

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net"
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
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/selkie-dev/selkie/pkg/apis/suffix"
	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/internal/fakeclient"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream/github"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream/github/githubtest"
)

const ns = "selkie-supervisor"

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	// The reference suffix: the reconciler must not depend on the default group.
	if err := suffix.AddToScheme(s, "pinniped.dev"); err != nil {
		t.Fatal(err)
	}
	return s
}

func testIDP(host string, caPEM []byte, edit func(*idpv1alpha1.GitHubIdentityProvider)) *idpv1alpha1.GitHubIdentityProvider {
	idp := &idpv1alpha1.GitHubIdentityProvider{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "my-idp", UID: "uid-1", Generation: 2},
		Spec: idpv1alpha1.GitHubIdentityProviderSpec{
			GitHubAPI: idpv1alpha1.GitHubAPIConfig{Host: host,
				TLS: &idpv1alpha1.TLSSpec{CertificateAuthorityData: base64.StdEncoding.EncodeToString(caPEM)}},
			AllowAuthentication: idpv1alpha1.GitHubAllowAuthenticationSpec{Organizations: idpv1alpha1.GitHubOrganizationsSpec{Allowed: []string{"acme"}}},
			Client:              idpv1alpha1.GitHubClientSpec{SecretName: "client"},
		},
	}
	if edit != nil {
		edit(idp)
	}
	return idp
}

func clientSecret(typ string, data map[string][]byte) *corev1.Secret {
	if data == nil {
		data = map[string][]byte{"clientID": []byte(githubtest.ClientID), "clientSecret": []byte(githubtest.ClientSecret)}
	}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "client"}, Type: corev1.SecretType(typ), Data: data}
}

func conditions(host, tls, policy, claims, secret, conn string) map[string]string {
	return map[string]string{
		idpv1alpha1.ConditionHostValid: host, idpv1alpha1.ConditionTLSConfigurationValid: tls,
		idpv1alpha1.ConditionOrganizationsPolicyValid: policy, idpv1alpha1.ConditionClaimsValid: claims,
		idpv1alpha1.ConditionClientCredentialsSecretValid: secret, idpv1alpha1.ConditionGitHubConnectionValid: conn,
	}
}

const (
	ok      = "True Success"
	unknown = "Unknown UnableToValidate"
)

func TestReconcile(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	closed := closedPort(t)
	tests := []struct {
		name      string
		idp       func(*idpv1alpha1.GitHubIdentityProvider)
		secret    *corev1.Secret
		want      map[string]string
		wantRetry bool
	}{
		{name: "ready", secret: clientSecret(idpv1alpha1.SecretTypeGitHubClient, nil), want: conditions(ok, ok, ok, ok, ok, ok)},
		{name: "reference secret type", secret: clientSecret(idpv1alpha1.SecretTypeGitHubClientPinniped, nil), want: conditions(ok, ok, ok, ok, ok, ok)},
		{name: "secret not found", want: conditions(ok, ok, ok, ok, "False SecretNotFound", ok)},
		{name: "secret wrong type", secret: clientSecret("Opaque", nil), want: conditions(ok, ok, ok, ok, "False SecretWrongType", ok)},
		{name: "secret missing keys", secret: clientSecret(idpv1alpha1.SecretTypeGitHubClient, map[string][]byte{"clientID": []byte("x")}),
			want: conditions(ok, ok, ok, ok, "False SecretMissingKeys", ok)},
		{name: "invalid host", secret: clientSecret(idpv1alpha1.SecretTypeGitHubClient, nil),
			idp:  func(i *idpv1alpha1.GitHubIdentityProvider) { i.Spec.GitHubAPI.Host = "https://github.com" },
			want: conditions("False InvalidHost", ok, ok, ok, ok, unknown)},
		{name: "invalid TLS", secret: clientSecret(idpv1alpha1.SecretTypeGitHubClient, nil),
			idp:  func(i *idpv1alpha1.GitHubIdentityProvider) { i.Spec.GitHubAPI.TLS.CertificateAuthorityData = "!!" },
			want: conditions(ok, "False InvalidTLSConfig", ok, ok, ok, unknown)},
		{name: "allowed orgs missing", secret: clientSecret(idpv1alpha1.SecretTypeGitHubClient, nil),
			idp:  func(i *idpv1alpha1.GitHubIdentityProvider) { i.Spec.AllowAuthentication.Organizations.Allowed = nil },
			want: conditions(ok, ok, "False Invalid", ok, ok, ok)},
		{name: "all users with allowed orgs", secret: clientSecret(idpv1alpha1.SecretTypeGitHubClient, nil),
			idp: func(i *idpv1alpha1.GitHubIdentityProvider) {
				i.Spec.AllowAuthentication.Organizations.Policy = idpv1alpha1.GitHubAllowedAuthOrganizationsPolicyAllGitHubUsers
			}, want: conditions(ok, ok, "False Invalid", ok, ok, ok)},
		{name: "invalid claims", secret: clientSecret(idpv1alpha1.SecretTypeGitHubClient, nil),
			idp:  func(i *idpv1alpha1.GitHubIdentityProvider) { i.Spec.Claims.Username = "email" },
			want: conditions(ok, ok, ok, "False Invalid", ok, ok)},
		{name: "unreachable", secret: clientSecret(idpv1alpha1.SecretTypeGitHubClient, nil),
			idp:  func(i *idpv1alpha1.GitHubIdentityProvider) { i.Spec.GitHubAPI.Host = closed },
			want: conditions(ok, ok, ok, ok, ok, "False UnableToDialServer"), wantRetry: true},
		{name: "untrusted certificate", secret: clientSecret(idpv1alpha1.SecretTypeGitHubClient, nil),
			idp:  func(i *idpv1alpha1.GitHubIdentityProvider) { i.Spec.GitHubAPI.TLS = nil },
			want: conditions(ok, ok, ok, ok, ok, "False UnableToDialServer"), wantRetry: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			objs := []client.Object{testIDP(f.Host(), f.CAPEM(), tt.idp)}
			if tt.secret != nil {
				objs = append(objs, tt.secret)
			}
			c := fakeclient.New(t, fakeclient.Options{Suffix: "pinniped.dev",
				Status: []client.Object{&idpv1alpha1.GitHubIdentityProvider{}}}, objs...)
			registry := upstream.NewRegistry()
			r := github.NewReconciler(github.ReconcilerConfig{ControllerConfig: upstream.ControllerConfig{Client: c, Registry: registry, Namespace: ns, Log: slog.New(slog.DiscardHandler)}, HTTPTimeout: 5 * time.Second})
			req := ctrl.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: "my-idp"}}
			res, err := r.Reconcile(context.Background(), req)
			if err != nil {
				t.Fatalf("Reconcile: %v", err)
			}
			if (res.RequeueAfter > 0) != tt.wantRetry {
				t.Errorf("RequeueAfter %s, want retry %t", res.RequeueAfter, tt.wantRetry)
			}
			idp := &idpv1alpha1.GitHubIdentityProvider{}
			if err := c.Get(context.Background(), req.NamespacedName, idp); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, cond := range idp.Status.Conditions {
				got[cond.Type] = string(cond.Status) + " " + cond.Reason
				if cond.ObservedGeneration != 2 || cond.Message == "" {
					t.Errorf("condition %s: observedGeneration %d, message %q", cond.Type, cond.ObservedGeneration, cond.Message)
				}
				assertNoSecrets(t, f, cond.Message)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			wantReady := cmp.Equal(tt.want, conditions(ok, ok, ok, ok, ok, ok))
			wantPhase := idpv1alpha1.GitHubPhaseError
			if wantReady {
				wantPhase = idpv1alpha1.GitHubPhaseReady
			}
			p, stored := registry.Get(upstream.Key{Kind: upstream.KindGitHub, Name: "my-idp"})
			if idp.Status.Phase != wantPhase || stored != wantReady {
				t.Fatalf("phase %s, stored %t; want %s, %t", idp.Status.Phase, stored, wantPhase, wantReady)
			}
			if !wantReady {
				return
			}
			if p.Type() != upstream.TypeGitHub || p.UID() != "uid-1" {
				t.Errorf("stored provider %s %s", p.Type(), p.UID())
			}
			// Unchanged: the provider is kept; deleted: it is removed at once.
			if _, err := r.Reconcile(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			if again, _ := registry.Get(upstream.Key{Kind: upstream.KindGitHub, Name: "my-idp"}); again != p {
				t.Error("an unchanged resource got a new provider")
			}
			if err := c.Delete(context.Background(), idp); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Reconcile(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			if _, stored := registry.Get(upstream.Key{Kind: upstream.KindGitHub, Name: "my-idp"}); stored {
				t.Error("a deleted resource stayed in the registry")
			}
		})
	}
}

func TestRequestsFor(t *testing.T) {
	t.Parallel()
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(testIDP("github.com", nil, func(i *idpv1alpha1.GitHubIdentityProvider) {
		i.Spec.GitHubAPI.TLS = &idpv1alpha1.TLSSpec{CertificateAuthorityDataSource: &idpv1alpha1.CertificateAuthorityDataSourceSpec{
			Kind: "ConfigMap", Name: "ca", Key: "ca.crt"}}
	})).Build()
	r := github.NewReconciler(github.ReconcilerConfig{ControllerConfig: upstream.ControllerConfig{Client: c, Registry: upstream.NewRegistry(), Namespace: ns, Log: slog.New(slog.DiscardHandler)}})
	for _, tt := range []struct {
		obj  client.Object
		want int
	}{
		{clientSecret(idpv1alpha1.SecretTypeGitHubClient, nil), 1},
		{&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ca"}}, 1},
		{&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "other"}}, 0},
	} {
		if got := r.RequestsFor(context.Background(), tt.obj); len(got) != tt.want {
			t.Errorf("RequestsFor(%s) = %v, want %d requests", tt.obj.GetName(), got, tt.want)
		}
	}
}

// TestSetupWithManager checks that the controller registers with a manager whose
// scheme uses a non-default group suffix (nothing is started).
func TestSetupWithManager(t *testing.T) {
	t.Parallel()
	mgr, err := ctrl.NewManager(&rest.Config{Host: "https://" + closedPort(t)}, ctrl.Options{
		// Controller names are process-global: let `go test -count=N` build it again.
		Controller: config.Controller{SkipNameValidation: new(true)},
		Scheme:     testScheme(t), Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
	})
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	r := github.NewReconciler(github.ReconcilerConfig{ControllerConfig: upstream.ControllerConfig{Client: mgr.GetClient(), Registry: upstream.NewRegistry(), Namespace: ns}})
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatalf("SetupWithManager: %v", err)
	}
}

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
