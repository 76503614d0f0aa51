// SPDX-License-Identifier: Apache-2.0

package aggregatedapi

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

// TestEnsureLosesCreateRace checks a replica that loses the race to create the serving
// certificate Secret uses the winner's certificate instead of failing to start.
func TestEnsureLosesCreateRace(t *testing.T) {
	t.Parallel()
	kube := fake.NewClientset()
	winner := &servingCerts{kube: fake.NewClientset(), caName: "test-serving-ca", namespace: "ns", secretName: "tls", hosts: []string{"api.ns.svc"},
		dir: t.TempDir(), clock: time.Now, log: slog.New(slog.DiscardHandler)}
	if err := winner.ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	winnerSecret, err := winner.kube.CoreV1().Secrets("ns").Get(context.Background(), "tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raced := false
	kube.PrependReactor("create", "secrets", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if raced {
			return false, nil, nil
		}
		raced = true // the other replica's Secret appears just before ours
		s := winnerSecret.DeepCopy()
		s.ResourceVersion = ""
		if err := kube.Tracker().Add(s); err != nil {
			t.Fatal(err)
		}
		return true, nil, apierrors.NewAlreadyExists(schema.GroupResource{Resource: "secrets"}, "tls")
	})
	loser := &servingCerts{kube: kube, caName: "test-serving-ca", namespace: "ns", secretName: "tls", hosts: []string{"api.ns.svc"},
		dir: t.TempDir(), clock: time.Now, log: slog.New(slog.DiscardHandler)}
	if err := loser.ensure(context.Background()); err != nil {
		t.Fatalf("ensure after losing the race: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(loser.dir, corev1.TLSCertKey))
	if err != nil || string(got) != string(winnerSecret.Data[corev1.TLSCertKey]) {
		t.Errorf("loser serves %q (%v), want the winner's certificate", got, err)
	}
	stored, _ := kube.CoreV1().Secrets("ns").Get(context.Background(), "tls", metav1.GetOptions{})
	if string(stored.Data[keyCACert]) != string(winnerSecret.Data[keyCACert]) {
		t.Error("the loser replaced the winner's CA")
	}
}

// TestServingCertRotatesOnItsClock walks a fake clock through a year: the leaf is
// reissued when a third of its life is left, the CA a month before it expires, and the
// replaced CA stays in the caBundle until it expires.
func TestServingCertRotatesOnItsClock(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	kube := fake.NewClientset()
	s := &servingCerts{kube: kube, caName: "test-serving-ca", namespace: "ns", secretName: "tls", hosts: []string{"api.ns.svc"},
		dir: t.TempDir(), clock: func() time.Time { return now }, log: slog.New(slog.DiscardHandler)}
	stored := func() map[string][]byte {
		t.Helper()
		if err := s.ensure(context.Background()); err != nil {
			t.Fatalf("ensure at %s: %v", now, err)
		}
		secret, err := kube.CoreV1().Secrets("ns").Get(context.Background(), "tls", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		served, err := os.ReadFile(s.certFile())
		if err != nil || !bytes.Equal(served, secret.Data[keyTLSCert]) {
			t.Fatalf("the served certificate is not the stored one (%v)", err)
		}
		return secret.Data
	}
	first := stored()
	if !bytes.Equal(first[keyCABundle], first[keyCACert]) {
		t.Fatal("a new install's caBundle is not its CA")
	}

	now = now.Add(servingLeafLifetime * 2 / 3).Add(-time.Hour)
	if got := stored(); !bytes.Equal(got[keyTLSCert], first[keyTLSCert]) {
		t.Error("the leaf was reissued with more than a third of its life left")
	}
	now = now.Add(2 * time.Hour)
	second := stored()
	if bytes.Equal(second[keyTLSCert], first[keyTLSCert]) || !bytes.Equal(second[keyCACert], first[keyCACert]) {
		t.Error("with a third of its life left the leaf was not reissued by the same CA")
	}

	now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(servingCALifetime - servingCARenewal + time.Hour)
	third := stored()
	if bytes.Equal(third[keyCACert], first[keyCACert]) {
		t.Fatal("the CA was not replaced a month before it expires")
	}
	if !bytes.HasPrefix(third[keyCABundle], third[keyCACert]) || !bytes.Contains(third[keyCABundle], first[keyCACert]) {
		t.Error("the caBundle does not hold the new CA followed by the replaced one")
	}
	if bytes.Equal(third[keyTLSCert], second[keyTLSCert]) {
		t.Error("the leaf was not reissued by the new CA")
	}

	now = now.Add(servingCARenewal) // the replaced CA has expired
	if got := stored(); !bytes.Equal(got[keyCACert], third[keyCACert]) {
		t.Error("the new CA was replaced again")
	}
}
