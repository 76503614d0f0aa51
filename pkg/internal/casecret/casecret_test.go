// SPDX-License-Identifier: Apache-2.0

package casecret

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestUpdateCreatesThenLeavesAlone(t *testing.T) {
	t.Parallel()
	kube := fake.NewClientset()
	secrets := kube.CoreV1().Secrets("ns")
	calls := 0
	set := func(old map[string][]byte) (map[string][]byte, bool, error) {
		calls++
		if string(old["k"]) == "v" {
			return old, false, nil
		}
		return map[string][]byte{"k": []byte("v")}, true, nil
	}
	data, wrote, err := Update(context.Background(), secrets, "s", corev1.SecretTypeOpaque, set)
	if err != nil || !wrote || string(data["k"]) != "v" {
		t.Fatalf("first Update = %v, %v, %v", data, wrote, err)
	}
	got, err := secrets.Get(context.Background(), "s", metav1.GetOptions{})
	if err != nil || got.Type != corev1.SecretTypeOpaque || string(got.Data["k"]) != "v" {
		t.Fatalf("stored Secret = %+v, %v", got, err)
	}
	if _, wrote, err := Update(context.Background(), secrets, "s", corev1.SecretTypeOpaque, set); err != nil || wrote || calls != 2 {
		t.Errorf("second Update wrote %v (err %v, %d calls); want no write", wrote, err, calls)
	}
}

// TestUpdateDecidesAgainAfterLosingARace makes another writer win the first write: the
// change is asked again with what that writer stored, and then writes nothing.
func TestUpdateDecidesAgainAfterLosingARace(t *testing.T) {
	t.Parallel()
	kube := fake.NewClientset()
	raced := false
	kube.PrependReactor("create", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		if raced {
			return false, nil, nil
		}
		raced = true
		// The other replica's Secret lands first.
		other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s"}, Data: map[string][]byte{"k": []byte("theirs")}}
		if err := kube.Tracker().Add(other); err != nil {
			return true, nil, err
		}
		return true, nil, apierrors.NewAlreadyExists(schema.GroupResource{Resource: "secrets"}, "s")
	})
	var seen [][]byte
	data, wrote, err := Update(context.Background(), kube.CoreV1().Secrets("ns"), "s", corev1.SecretTypeOpaque,
		func(old map[string][]byte) (map[string][]byte, bool, error) {
			seen = append(seen, old["k"])
			if old != nil {
				return old, false, nil
			}
			return map[string][]byte{"k": []byte("ours")}, true, nil
		})
	if err != nil || wrote || string(data["k"]) != "theirs" {
		t.Fatalf("Update = %q, wrote %v, err %v; want theirs, no write", data["k"], wrote, err)
	}
	if len(seen) != 2 || seen[0] != nil || string(seen[1]) != "theirs" {
		t.Errorf("change saw %q, want nothing then theirs", seen)
	}
}

func TestUpdateGivesUpAndReportsErrors(t *testing.T) {
	t.Parallel()
	kube := fake.NewClientset(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s"}})
	kube.PrependReactor("update", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "secrets"}, "s", errors.New("changed"))
	})
	always := func(map[string][]byte) (map[string][]byte, bool, error) {
		return map[string][]byte{"k": nil}, true, nil
	}
	if _, _, err := Update(context.Background(), kube.CoreV1().Secrets("ns"), "s", corev1.SecretTypeOpaque, always); err == nil {
		t.Error("endless conflicts gave no error")
	}
	boom := errors.New("boom")
	failing := func(map[string][]byte) (map[string][]byte, bool, error) { return nil, false, boom }
	if _, _, err := Update(context.Background(), kube.CoreV1().Secrets("ns"), "s", corev1.SecretTypeOpaque, failing); !errors.Is(err, boom) {
		t.Errorf("Update = %v, want the change's error", err)
	}
}

func TestRenew(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	p := Policy{CommonName: "test-ca", Lifetime: 10 * 24 * time.Hour, RenewBefore: 24 * time.Hour, Clock: clock}

	first, err := p.Renew(nil, nil)
	if err != nil || !first.Renewed || first.Replaced != nil {
		t.Fatalf("no CA stored: %+v, %v; want a new CA replacing nothing", first, err)
	}
	certPEM, keyPEM, err := first.CA.PEM()
	if err != nil {
		t.Fatal(err)
	}
	kept, err := p.Renew(certPEM, keyPEM)
	if err != nil || kept.Renewed || !bytes.Equal(kept.CA.CertPEM(), certPEM) {
		t.Errorf("a fresh CA was not kept: %+v, %v", kept, err)
	}
	if r, err := p.Renew([]byte("garbage"), keyPEM); err != nil || !r.Renewed || r.Replaced != nil {
		t.Errorf("an unreadable CA: %+v, %v; want a new CA replacing nothing", r, err)
	}

	now = now.Add(9*24*time.Hour + time.Hour) // within RenewBefore of the expiry
	expiring, err := p.Renew(certPEM, keyPEM)
	if err != nil || !expiring.Renewed || expiring.Replaced == nil || !bytes.Equal(expiring.Replaced.CertPEM(), certPEM) {
		t.Errorf("an expiring CA: %+v, %v; want a new CA replacing it", expiring, err)
	}
	now = now.Add(24 * time.Hour) // expired
	expired, err := p.Renew(certPEM, keyPEM)
	if err != nil || !expired.Renewed || expired.Replaced != nil {
		t.Errorf("an expired CA: %+v, %v; want a new CA, the old one no longer trusted", expired, err)
	}
}
