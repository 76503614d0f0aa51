// SPDX-License-Identifier: Apache-2.0

package aggregatedapi

import (
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
	winnerSecret, err := winner.renewSecret(context.Background())
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
