// SPDX-License-Identifier: Apache-2.0

// Package casecret keeps a CA (and what it signs) in a Secret shared by every replica:
// Update writes a change to the Secret and, when another replica wrote first, reads
// theirs and decides again; Renew loads the stored CA or makes a new one when it is
// missing, unreadable or about to expire, on an injected clock.
package casecret

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/selkie-dev/selkie/pkg/certauthority"
)

// attempts bounds how often Update reads again after losing a race.
const attempts = 5

// Change returns the data a Secret should hold given its current data (nil when the
// Secret does not exist; Change must not modify it) and whether that differs.
type Change func(old map[string][]byte) (data map[string][]byte, changed bool, err error)

// Update reads the Secret name through secrets and, when change reports a change,
// writes it: it creates the Secret (of type typ) when missing. When another writer won
// the race (AlreadyExists, Conflict) it reads the Secret again and asks change again.
// It returns the data the Secret holds afterwards and whether this call wrote it.
func Update(ctx context.Context, secrets corev1client.SecretInterface, name string, typ corev1.SecretType, change Change) (map[string][]byte, bool, error) {
	for range attempts {
		secret, err := secrets.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			secret = nil
		case err != nil:
			return nil, false, fmt.Errorf("read Secret %s: %w", name, err)
		}
		var old map[string][]byte
		if secret != nil {
			old = secret.Data
		}
		data, changed, err := change(old)
		if err != nil || !changed {
			return data, false, err
		}
		if secret == nil {
			_, err = secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Type: typ, Data: data},
				metav1.CreateOptions{})
		} else {
			secret = secret.DeepCopy()
			secret.Data = data
			_, err = secrets.Update(ctx, secret, metav1.UpdateOptions{})
		}
		switch {
		case err == nil:
			return data, true, nil
		case apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err):
			continue // another replica wrote first: decide again on what it wrote
		default:
			return nil, false, fmt.Errorf("write Secret %s: %w", name, err)
		}
	}
	return nil, false, fmt.Errorf("secret %s keeps changing under us", name)
}

// Rotation is the outcome of Renew.
type Rotation struct {
	// CA is the CA to use: the stored one, or a new one.
	CA *certauthority.CA
	// Renewed is true when CA is new.
	Renewed bool
	// Replaced is the stored CA that a new one replaced while it was still valid (it
	// should stay trusted until it expires); nil otherwise.
	Replaced *certauthority.CA
}

// Policy says when a stored CA is replaced and what replaces it.
type Policy struct {
	// CommonName and Lifetime describe a new CA.
	CommonName string
	Lifetime   time.Duration
	// RenewBefore is how long before its expiry a CA is replaced.
	RenewBefore time.Duration
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
}

// Renew returns the CA in certPEM and keyPEM, or a new one when that is missing,
// unreadable, or expires within p.RenewBefore.
func (p Policy) Renew(certPEM, keyPEM []byte) (Rotation, error) {
	clock := p.Clock
	if clock == nil {
		clock = time.Now
	}
	var stored *certauthority.CA
	if len(certPEM) > 0 {
		if ca, err := certauthority.Load(certPEM, keyPEM, certauthority.WithClock(clock)); err == nil { // not expired
			stored = ca
		}
	}
	if stored != nil && stored.NotAfter().Sub(clock()) > p.RenewBefore {
		return Rotation{CA: stored}, nil
	}
	ca, err := certauthority.New(p.CommonName, p.Lifetime, certauthority.WithClock(clock))
	if err != nil {
		return Rotation{}, err
	}
	return Rotation{CA: ca, Renewed: true, Replaced: stored}, nil
}
