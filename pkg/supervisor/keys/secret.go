// SPDX-License-Identifier: Apache-2.0

package keys

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// Secret types and keys.
const (
	// JWKSSecretType marks a Secret holding a FederationDomain's signing keys.
	JWKSSecretType corev1.SecretType = "secrets.selkie.dev/federation-domain-jwks"
	// SymmetricSecretType marks a Secret holding one symmetric key.
	SymmetricSecretType corev1.SecretType = "secrets.selkie.dev/symmetric-key"
	// RotateAnnotation on the JWKS Secret asks for a rotation now: set it to a new value
	// (a timestamp, say) and the next key, or a new one, starts signing at once.
	RotateAnnotation = "keys.selkie.dev/rotate"

	jwksDataKey      = "keys.json"
	symmetricDataKey = "key"
	symmetricKeySize = 32
)

// Manager keeps signing keys and symmetric keys in Secrets of one namespace.
type Manager struct {
	Secrets corev1client.SecretInterface
	Policy  Policy
	Clock   func() time.Time
	Rand    io.Reader
}

type storedKey struct {
	ID         string    `json:"kid"`
	Created    time.Time `json:"created"`
	ActiveFrom time.Time `json:"activeFrom"`
	// PrivateKey is PKCS #8 DER.
	PrivateKey []byte `json:"privateKey"`
}

type storedRing struct {
	Keys       []storedKey `json:"keys"`
	RotatedFor string      `json:"rotatedFor,omitempty"`
}

// Reconcile creates or advances the signing keys in Secret name (owned by owner) and
// returns the Set to use now and when to call Reconcile again. A Secret it cannot read
// is an error and is left as it is: deleting it makes new keys.
func (m *Manager) Reconcile(ctx context.Context, name string, owner metav1.OwnerReference) (*Set, time.Time, error) {
	now, random, policy := m.now(), m.random(), m.Policy.complete()
	secret, err := m.Secrets.Get(ctx, name, metav1.GetOptions{})
	exists := err == nil
	if apierrors.IsNotFound(err) {
		secret, err = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, OwnerReferences: []metav1.OwnerReference{owner}}, Type: JWKSSecretType}, nil
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("get signing keys Secret %s: %w", name, err)
	}
	r, err := decodeRing(secret, exists)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("signing keys Secret %s: %w", name, err)
	}
	changed, again, err := r.plan(policy, now, secret.Annotations[RotateAnnotation], random)
	if err != nil {
		return nil, time.Time{}, err
	}
	if changed {
		if err := encodeRing(secret, r); err != nil {
			return nil, time.Time{}, err
		}
		if !exists {
			_, err = m.Secrets.Create(ctx, secret, metav1.CreateOptions{})
		} else {
			_, err = m.Secrets.Update(ctx, secret, metav1.UpdateOptions{})
		}
		if err != nil { // a conflict or a create race: the caller retries and reads the winner's keys
			return nil, time.Time{}, fmt.Errorf("write signing keys Secret %s: %w", name, err)
		}
	}
	return r.at(now), again, nil
}

func decodeRing(secret *corev1.Secret, exists bool) (*ring, error) {
	if !exists {
		return &ring{}, nil
	}
	if secret.Type != JWKSSecretType {
		return nil, fmt.Errorf("type is %q, want %q", secret.Type, JWKSSecretType)
	}
	var stored storedRing
	if err := json.Unmarshal(secret.Data[jwksDataKey], &stored); err != nil {
		return nil, fmt.Errorf("decode %s: %w", jwksDataKey, err)
	}
	r := &ring{rotatedFor: stored.RotatedFor}
	seen := map[string]bool{}
	for _, s := range stored.Keys {
		parsed, err := x509.ParsePKCS8PrivateKey(s.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", s.ID, err)
		}
		priv, ok := parsed.(*ecdsa.PrivateKey)
		if !ok || priv.Curve.Params().Name != "P-256" {
			return nil, fmt.Errorf("key %q is not a P-256 ECDSA key", s.ID)
		}
		if s.ID == "" || seen[s.ID] {
			return nil, fmt.Errorf("key ID %q is empty or repeated", s.ID)
		}
		seen[s.ID] = true
		r.keys = append(r.keys, &Key{ID: s.ID, Private: priv, Created: s.Created, ActiveFrom: s.ActiveFrom})
	}
	return r, nil
}

func encodeRing(secret *corev1.Secret, r *ring) error {
	stored := storedRing{RotatedFor: r.rotatedFor}
	for _, k := range r.keys {
		der, err := x509.MarshalPKCS8PrivateKey(k.Private)
		if err != nil {
			return fmt.Errorf("encode key %s: %w", k.ID, err)
		}
		stored.Keys = append(stored.Keys, storedKey{ID: k.ID, Created: k.Created.UTC(), ActiveFrom: k.ActiveFrom.UTC(), PrivateKey: der})
	}
	data, err := json.Marshal(stored)
	if err != nil {
		return fmt.Errorf("encode signing keys: %w", err)
	}
	secret.Data = map[string][]byte{jwksDataKey: data}
	return nil
}

// Symmetric returns the 32-byte key in Secret name (owned by owner), creating it with a
// random key when missing. A Secret of the wrong type or size is an error and is left
// as it is.
func (m *Manager) Symmetric(ctx context.Context, name string, owner metav1.OwnerReference) ([]byte, error) {
	for range 2 { // a second round reads the winner of a create race
		secret, err := m.Secrets.Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			key := secret.Data[symmetricDataKey]
			if secret.Type != SymmetricSecretType || len(key) != symmetricKeySize {
				return nil, fmt.Errorf("the Secret %s: want type %s with a %d-byte %q", name, SymmetricSecretType, symmetricKeySize, symmetricDataKey)
			}
			return key, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("get Secret %s: %w", name, err)
		}
		key := make([]byte, symmetricKeySize)
		if _, err := io.ReadFull(m.random(), key); err != nil {
			return nil, fmt.Errorf("generate key: %w", err)
		}
		_, err = m.Secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, OwnerReferences: []metav1.OwnerReference{owner}},
			Type: SymmetricSecretType, Data: map[string][]byte{symmetricDataKey: key}}, metav1.CreateOptions{})
		if err == nil {
			return key, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("create Secret %s: %w", name, err)
		}
	}
	return nil, errors.New("Secret " + name + " was created and deleted concurrently")
}

func (m *Manager) now() time.Time {
	if m.Clock != nil {
		return m.Clock()
	}
	return time.Now()
}

func (m *Manager) random() io.Reader {
	if m.Rand != nil {
		return m.Rand
	}
	return rand.Reader
}
