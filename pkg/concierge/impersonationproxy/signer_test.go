// SPDX-License-Identifier: Apache-2.0

package impersonationproxy

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/selkie-dev/selkie/pkg/certauthority"
)

func caSecret(t *testing.T, lifetime time.Duration) (*corev1.Secret, *certauthority.CA) {
	t.Helper()
	ca, err := certauthority.New("old", lifetime)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.PEM()
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "signer", Namespace: "ns"}, Data: map[string][]byte{caCertKey: certPEM, caKeyKey: keyPEM}}, ca
}

func TestSignerRefresh(t *testing.T) {
	t.Parallel()
	fresh, freshCA := caSecret(t, SignerLifetime)
	expiring, expiringCA := caSecret(t, 30*time.Minute)
	tests := []struct {
		name        string
		existing    *corev1.Secret
		wantSame    *certauthority.CA // the loaded CA must be this one
		wantActions []string
	}{
		{name: "created when missing", wantActions: []string{"get", "create"}},
		{name: "reused when valid", existing: fresh, wantSame: freshCA, wantActions: []string{"get"}},
		{name: "rotated within an hour of expiry", existing: expiring, wantActions: []string{"get", "update"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var objects []runtime.Object
			if tt.existing != nil {
				objects = append(objects, tt.existing.DeepCopy())
			}
			kube := fake.NewClientset(objects...)
			s := &Signer{Kube: kube, Namespace: "ns", Name: "signer", TTL: 5 * time.Minute}
			cas, err := s.Refresh(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			ca := cas.Current
			var verbs []string
			for _, a := range kube.Actions() {
				verbs = append(verbs, a.GetVerb())
			}
			if diff := cmp.Diff(tt.wantActions, verbs); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
			if tt.wantSame != nil && string(ca.CertPEM()) != string(tt.wantSame.CertPEM()) {
				t.Error("a valid CA was replaced")
			}
			if tt.wantSame == nil && string(ca.CertPEM()) == string(expiringCA.CertPEM()) {
				t.Error("an expiring CA was kept")
			}
			if left := time.Until(ca.NotAfter()); tt.wantSame == nil && (left < SignerLifetime-time.Minute || left > SignerLifetime) {
				t.Errorf("new CA valid for %s", left)
			}
			stored, err := kube.CoreV1().Secrets("ns").Get(context.Background(), "signer", metav1.GetOptions{})
			if err != nil || string(stored.Data[caCertKey]) != string(ca.CertPEM()) {
				t.Errorf("the Secret does not hold the loaded CA: %v", err)
			}
			// A rotation keeps the replaced CA, still valid for an hour, in the Secret
			// and trusted, so that certificates it issued keep working.
			wantPrevious := tt.existing != nil && tt.wantSame == nil
			if got := cas.Previous != nil && string(cas.Previous.CertPEM()) == string(expiringCA.CertPEM()); got != wantPrevious {
				t.Errorf("previous CA is the replaced one: %t, want %t", got, wantPrevious)
			}
			if got := string(stored.Data[previousCACertKey]) == string(expiringCA.CertPEM()); got != wantPrevious {
				t.Errorf("the Secret keeps the replaced CA: %t, want %t", got, wantPrevious)
			}
			// A second replica loads the same CAs.
			other := &Signer{Kube: kube, Namespace: "ns", Name: "signer"}
			if cas2, err := other.Refresh(context.Background()); err != nil || !cas2.Same(cas) {
				t.Errorf("another replica got different CAs: %v", err)
			}
			// Refreshing an unchanged Secret returns the very same CAs, so the proxy
			// is not handed a "new" CA on every sync.
			again, err := s.Refresh(context.Background())
			if err != nil || again.Current != cas.Current || again.Previous != cas.Previous {
				t.Errorf("a refresh of an unchanged Secret returned new CA objects: %v", err)
			}
		})
	}
}

func TestSignerStatusAndIssue(t *testing.T) {
	t.Parallel()
	kube := fake.NewClientset()
	s := &Signer{Kube: kube, Namespace: "ns", Name: "signer", TTL: 10 * time.Minute}
	if err := s.Status(); !errors.Is(err, errNotRunning) {
		t.Errorf("status before the proxy runs: %v", err)
	}
	if _, err := s.IssueClientCert(context.Background(), "u", nil); err == nil {
		t.Error("issued while the proxy does not run")
	}
	s.setActive(true)
	if err := s.Status(); err == nil {
		t.Error("ready without a CA")
	}
	cas, err := s.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ca := cas.Current
	if err := s.Status(); err != nil {
		t.Fatal(err)
	}
	kp, err := s.IssueClientCert(context.Background(), "alice", []string{"devs"})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(kp.NotAfter); d < 9*time.Minute || d > 10*time.Minute {
		t.Errorf("certificate lifetime %s, want the TTL", d)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM())
	if err := verifyPEM(kp.CertPEM, pool); err != nil {
		t.Error(err)
	}
}

// TestSignerRotationIssuesFromThePreviousCAFirst checks that a new CA signs only once
// every replica has had time to read it, while the replaced one signs meanwhile.
func TestSignerRotationIssuesFromThePreviousCAFirst(t *testing.T) {
	t.Parallel()
	expiring, expiringCA := caSecret(t, 30*time.Minute)
	kube := fake.NewClientset(expiring)
	now := time.Now()
	rotated := now // the clock stands still until the steps move it
	s := &Signer{Kube: kube, Namespace: "ns", Name: "signer", TTL: 5 * time.Minute, Clock: func() time.Time { return now }}
	s.setActive(true)
	cas, err := s.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	oldPool, newPool := x509.NewCertPool(), x509.NewCertPool()
	oldPool.AppendCertsFromPEM(expiringCA.CertPEM())
	newPool.AppendCertsFromPEM(cas.Current.CertPEM())
	for _, step := range []struct {
		name  string
		after time.Duration
		pool  *x509.CertPool
	}{
		{"just rotated", 0, oldPool},
		{"before the activation delay", SignerActivationDelay - time.Second, oldPool},
		{"after the activation delay", SignerActivationDelay, newPool},
	} {
		// From the rotation's own instant: a slow machine must not move the steps.
		now = rotated.Add(step.after)
		kp, err := s.IssueClientCert(context.Background(), "alice", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := verifyPEM(kp.CertPEM, step.pool); err != nil {
			t.Errorf("%s: issued by the wrong CA: %v", step.name, err)
		}
	}
}
