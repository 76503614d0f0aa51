// SPDX-License-Identifier: Apache-2.0

package keys

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

var owner = metav1.OwnerReference{APIVersion: "config.supervisor.selkie.dev/v1alpha1", Kind: "FederationDomain", Name: "fd", UID: "uid-1"}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newManager(t *testing.T) (*Manager, *clock, *fake.Clientset) {
	t.Helper()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	client := fake.NewClientset()
	return &Manager{Secrets: client.CoreV1().Secrets("sup"), Clock: c.now,
		Policy: Policy{Period: 10 * time.Hour, Lead: 2 * time.Hour, Retain: time.Hour}}, c, client
}

func ids(keys ...*Key) []string {
	var out []string
	for _, k := range keys {
		if k != nil {
			out = append(out, k.ID)
		}
	}
	return out
}

func jwksIDs(s *Set) []string {
	var out []string
	for _, k := range s.JWKS().Keys {
		out = append(out, k.KeyID)
	}
	return out
}

func TestRotationTimeline(t *testing.T) {
	m, c, _ := newManager(t)
	ctx := context.Background()
	first, again, err := m.Reconcile(ctx, "fd-jwks", owner)
	if err != nil {
		t.Fatal(err)
	}
	if first.Next != nil || len(first.Previous) != 0 {
		t.Fatalf("a new domain has only an active key: %+v", first)
	}
	if want := c.t.Add(8 * time.Hour); !again.Equal(want) {
		t.Errorf("next run %v, want %v (period minus lead)", again, want)
	}
	k1 := first.Active.ID

	c.t = c.t.Add(8 * time.Hour) // the next key is published two hours before it signs
	set, again, err := m.Reconcile(ctx, "fd-jwks", owner)
	if err != nil {
		t.Fatal(err)
	}
	if set.Active.ID != k1 || set.Next == nil || len(jwksIDs(set)) != 2 {
		t.Fatalf("after period-lead: active %s next %v jwks %v", set.Active.ID, ids(set.Next), jwksIDs(set))
	}
	k2 := set.Next.ID
	if want := c.t.Add(2 * time.Hour); !again.Equal(want) {
		t.Errorf("next run %v, want the activation at %v", again, want)
	}

	c.t = c.t.Add(2 * time.Hour) // k2 signs; k1 stays published for Retain
	set, _, err = m.Reconcile(ctx, "fd-jwks", owner)
	if err != nil {
		t.Fatal(err)
	}
	if set.Active.ID != k2 || len(set.Previous) != 1 || set.Previous[0].ID != k1 {
		t.Fatalf("after activation: active %s previous %v", set.Active.ID, ids(set.Previous...))
	}
	if got := jwksIDs(set); len(got) != 2 || got[0] != k2 || got[1] != k1 {
		t.Errorf("JWKS %v, want [%s %s]", got, k2, k1)
	}

	c.t = c.t.Add(time.Hour) // retained long enough: k1 is gone
	set, _, err = m.Reconcile(ctx, "fd-jwks", owner)
	if err != nil {
		t.Fatal(err)
	}
	if got := jwksIDs(set); len(got) != 1 || got[0] != k2 {
		t.Errorf("JWKS %v, want only %s", got, k2)
	}
}

func TestRotateAnnotation(t *testing.T) {
	m, c, client := newManager(t)
	ctx := context.Background()
	first, _, err := m.Reconcile(ctx, "fd-jwks", owner)
	if err != nil {
		t.Fatal(err)
	}
	annotate := func(v string) {
		s, err := client.CoreV1().Secrets("sup").Get(ctx, "fd-jwks", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.Annotations = map[string]string{RotateAnnotation: v}
		if _, err := client.CoreV1().Secrets("sup").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	annotate("1")
	c.t = c.t.Add(time.Minute)
	set, _, err := m.Reconcile(ctx, "fd-jwks", owner)
	if err != nil {
		t.Fatal(err)
	}
	if set.Active.ID == first.Active.ID || len(set.Previous) != 1 || set.Previous[0].ID != first.Active.ID {
		t.Fatalf("rotation did not replace %s: active %s previous %v", first.Active.ID, set.Active.ID, ids(set.Previous...))
	}
	again, _, err := m.Reconcile(ctx, "fd-jwks", owner) // the same request is handled once
	if err != nil {
		t.Fatal(err)
	}
	if again.Active.ID != set.Active.ID {
		t.Errorf("the same annotation rotated twice")
	}
}

func TestSignCarriesActiveKeyID(t *testing.T) {
	m, _, _ := newManager(t)
	set, _, err := m.Reconcile(context.Background(), "fd-jwks", owner)
	if err != nil {
		t.Fatal(err)
	}
	token, err := set.Sign([]byte(`{"sub":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if kid := jws.Signatures[0].Header.KeyID; kid != set.Active.ID {
		t.Errorf("kid %q, want %q", kid, set.Active.ID)
	}
	jwks := set.JWKS()
	keys := jwks.Key(set.Active.ID)
	if len(keys) != 1 {
		t.Fatalf("JWKS lacks the active key")
	}
	if _, err := jws.Verify(keys[0].Public()); err != nil {
		t.Errorf("verify with the published key: %v", err)
	}
	if _, err := (&Set{}).Sign(nil); err != ErrNoActiveKey {
		t.Errorf("empty set signed: %v", err)
	}
}

func TestMalformedSecretIsLeftAlone(t *testing.T) {
	for name, secret := range map[string]*corev1.Secret{
		"wrong type":   {Type: corev1.SecretTypeOpaque, Data: map[string][]byte{jwksDataKey: []byte(`{"keys":[]}`)}},
		"garbage json": {Type: JWKSSecretType, Data: map[string][]byte{jwksDataKey: []byte(`{`)}},
		"bad key":      {Type: JWKSSecretType, Data: map[string][]byte{jwksDataKey: []byte(`{"keys":[{"kid":"a","privateKey":"AAAA"}]}`)}},
	} {
		t.Run(name, func(t *testing.T) {
			m, _, client := newManager(t)
			secret.Name = "fd-jwks"
			if _, err := client.CoreV1().Secrets("sup").Create(context.Background(), secret, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := m.Reconcile(context.Background(), "fd-jwks", owner); err == nil || !strings.Contains(err.Error(), "fd-jwks") {
				t.Fatalf("want an error naming the Secret, got %v", err)
			}
			got, _ := client.CoreV1().Secrets("sup").Get(context.Background(), "fd-jwks", metav1.GetOptions{})
			if string(got.Data[jwksDataKey]) != string(secret.Data[jwksDataKey]) {
				t.Errorf("the Secret was overwritten")
			}
		})
	}
}

func TestSymmetric(t *testing.T) {
	m, _, client := newManager(t)
	ctx := context.Background()
	k1, err := m.Symmetric(ctx, "fd-state", owner)
	if err != nil || len(k1) != 32 {
		t.Fatalf("key %d bytes, err %v", len(k1), err)
	}
	k2, err := m.Symmetric(ctx, "fd-state", owner)
	if err != nil || string(k1) != string(k2) {
		t.Fatalf("second read differs or failed: %v", err)
	}
	bad := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "short"}, Type: SymmetricSecretType, Data: map[string][]byte{symmetricDataKey: []byte("x")}}
	if _, err := client.CoreV1().Secrets("sup").Create(ctx, bad, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Symmetric(ctx, "short", owner); err == nil {
		t.Errorf("a 1-byte key was accepted")
	}
}
