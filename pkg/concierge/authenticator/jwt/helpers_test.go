// SPDX-License-Identifier: Apache-2.0

package jwt

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator/internal/testcond"
	"github.com/selkie-dev/selkie/pkg/internal/fakeclient"
)

const (
	testNamespace = "selkie-concierge"
	testGroup     = "authentication.concierge.pinniped.dev"
	testName      = "supervisor"
	testAudience  = "workload-1"
)

// cacheKey is the cache key of the test authenticator.
func cacheKey() authenticator.Key {
	return authenticator.Key{APIGroup: testGroup, Kind: Kind, Name: testName}
}

// fixedNow is the time the reconcilers under test see.
func fixedNow() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// newReconciler returns a reconciler over a fake client holding objs, with the
// reference suffix so that cache keys use the reference group.
func newReconciler(t *testing.T, objs ...client.Object) *Reconciler {
	t.Helper()
	c := fakeclient.New(t, fakeclient.Options{Suffix: "pinniped.dev", Status: []client.Object{&authenticationv1alpha1.JWTAuthenticator{}}}, objs...)
	return NewReconciler(authenticator.ControllerConfig{
		Client:    c,
		Cache:     authenticator.NewCache(),
		APIGroup:  testGroup,
		Namespace: testNamespace,
		Clock:     fixedNow,
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

func newJWTAuthenticator(spec authenticationv1alpha1.JWTAuthenticatorSpec) *authenticationv1alpha1.JWTAuthenticator {
	return &authenticationv1alpha1.JWTAuthenticator{
		ObjectMeta: metav1.ObjectMeta{Name: testName, Generation: 2},
		Spec:       spec,
	}
}

// reconcile runs one reconciliation of the test authenticator.
func reconcileOnce(t *testing.T, r *Reconciler) ctrl.Result {
	t.Helper()
	res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Name: testName}})
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	return res
}

func getJWTAuthenticator(t *testing.T, r *Reconciler) *authenticationv1alpha1.JWTAuthenticator {
	t.Helper()
	var got authenticationv1alpha1.JWTAuthenticator
	if err := r.Client.Get(context.Background(), client.ObjectKey{Name: testName}, &got); err != nil {
		t.Fatal(err)
	}
	return &got
}

func update(t *testing.T, r *Reconciler, obj client.Object) {
	t.Helper()
	if err := r.Client.Update(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

// wantConditions returns the conditions of a Ready JWTAuthenticator with the
// given conditions replaced, and Ready False when any is replaced.
func wantConditions(replace ...metav1.Condition) []metav1.Condition {
	return testcond.Want([]string{
		authenticationv1alpha1.ConditionIssuerURLValid,
		authenticationv1alpha1.ConditionClaimRulesValid,
		authenticationv1alpha1.ConditionTLSConfigurationValid,
		authenticationv1alpha1.ConditionDiscoveryURLValid,
		authenticationv1alpha1.ConditionJWKSURLValid,
		authenticationv1alpha1.ConditionJWKSFetchValid,
		authenticationv1alpha1.ConditionAuthenticatorValid,
	}, replace...)
}

func caSecret(name string, typ corev1.SecretType, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name},
		Type:       typ,
		Data:       data,
	}
}

func caConfigMap(name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: testNamespace, Name: name}, Data: data}
}

// cached returns the cache's authenticator for the test resource, or nil.
func cached(r *Reconciler) authenticator.Token {
	t, _ := r.Cache.Get(cacheKey())
	return t
}
