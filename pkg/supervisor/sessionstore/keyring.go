// SPDX-License-Identifier: Apache-2.0

package sessionstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// maxRotateAttempts bounds RotateKeyring's retries when other replicas write the
// Secret at the same time.
const maxRotateAttempts = 5

// defaultReloadInterval is RunReload's interval when it is given none.
const defaultReloadInterval = time.Minute

func newKeyring(secrets corev1client.SecretInterface, name string, now func() time.Time) *Keyring {
	if now == nil {
		now = time.Now
	}
	return &Keyring{secrets: secrets, name: name, clock: now, rand: rand.Reader}
}

// LoadKeyring reads the keyring from the Secret called name, creating the Secret with
// one fresh key if it does not exist. When several replicas start together, one
// creates it and the others read what it created. A Secret that exists but is
// malformed (wrong type, wrong key length, no active key, …) is an error and is left
// untouched. now is the clock (time.Now if nil).
func LoadKeyring(ctx context.Context, secrets corev1client.SecretInterface, name string, now func() time.Time) (*Keyring, error) {
	k := newKeyring(secrets, name, now)
	st, err := k.getOrCreate(ctx)
	if err != nil {
		return nil, err
	}
	k.state.Store(st)
	return k, nil
}

// RotateKeyring adds a new active key to the keyring in the Secret called name and
// returns the new ring. The previous active key is kept (retired) so that sessions it
// sealed still open; keys retired KeyRetention or longer ago are dropped. Concurrent
// writers are handled with the Secret's resourceVersion: a conflicting write is
// retried on a fresh read. Other replicas pick the new key up with Reload.
func RotateKeyring(ctx context.Context, secrets corev1client.SecretInterface, name string, now func() time.Time) (*Keyring, error) {
	k := newKeyring(secrets, name, now)
	for range maxRotateAttempts {
		secret, err := secrets.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			// A missing keyring is created with a fresh key: that is a rotation too.
			st, err := k.getOrCreate(ctx)
			if err != nil {
				return nil, err
			}
			k.state.Store(st)
			return k, nil
		}
		if err != nil {
			return nil, fmt.Errorf("rotate keyring: read secret %s: %w", name, err)
		}
		st, err := parseKeyringSecret(secret)
		if err != nil {
			return nil, fmt.Errorf("rotate keyring: %w", err)
		}
		next, err := st.rotated(k.rand, k.clock())
		if err != nil {
			return nil, fmt.Errorf("rotate keyring: %w", err)
		}
		if secret.Data, err = keyringData(next); err != nil {
			return nil, fmt.Errorf("rotate keyring: %w", err)
		}
		// secret carries the resourceVersion it was read at: a concurrent write fails
		// with Conflict instead of being overwritten.
		_, err = secrets.Update(ctx, secret, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("rotate keyring: write secret %s: %w", name, err)
		}
		k.state.Store(next)
		return k, nil
	}
	return nil, fmt.Errorf("rotate keyring: secret %s changed concurrently %d times", name, maxRotateAttempts)
}

// getOrCreate reads and parses the Secret, creating it with a fresh key if missing.
func (k *Keyring) getOrCreate(ctx context.Context) (*keyringState, error) {
	secret, err := k.secrets.Get(ctx, k.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return k.create(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("load keyring: read secret %s: %w", k.name, err)
	}
	st, err := parseKeyringSecret(secret)
	if err != nil {
		return nil, fmt.Errorf("load keyring: %w", err)
	}
	return st, nil
}

func (k *Keyring) create(ctx context.Context) (*keyringState, error) {
	st, err := newKeyringState(k.rand, k.clock())
	if err != nil {
		return nil, fmt.Errorf("create keyring: %w", err)
	}
	secret, err := newKeyringSecret(k.name, st)
	if err != nil {
		return nil, fmt.Errorf("create keyring: %w", err)
	}
	_, err = k.secrets.Create(ctx, secret, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		// Another replica won the race: use its keyring, never ours.
		secret, err = k.secrets.Get(ctx, k.name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("load keyring: read secret %s created concurrently: %w", k.name, err)
		}
		if st, err = parseKeyringSecret(secret); err != nil {
			return nil, fmt.Errorf("load keyring: %w", err)
		}
		return st, nil
	}
	if err != nil {
		return nil, fmt.Errorf("create keyring: write secret %s: %w", k.name, err)
	}
	return st, nil
}

// rotateIfAsked rotates the keyring in the Secret once per new RotateAnnotation value.
// Replicas that see the same value race through the resourceVersion: the first write
// wins, and the others find rotatedFor already equal to the value on their re-read.
func (k *Keyring) rotateIfAsked(ctx context.Context) error {
	for range maxRotateAttempts {
		secret, err := k.secrets.Get(ctx, k.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil // getOrCreate makes a fresh one
		}
		if err != nil {
			return fmt.Errorf("read secret %s: %w", k.name, err)
		}
		want := secret.Annotations[RotateAnnotation]
		if want == "" {
			return nil
		}
		st, err := parseKeyringSecret(secret)
		if err != nil {
			return err
		}
		if st.rotatedFor == want {
			return nil
		}
		next, err := st.rotated(k.rand, k.clock())
		if err != nil {
			return err
		}
		next.rotatedFor = want
		if secret.Data, err = keyringData(next); err != nil {
			return err
		}
		_, err = k.secrets.Update(ctx, secret, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("rotate keyring as %s asks: write secret %s: %w", RotateAnnotation, k.name, err)
		}
		return nil
	}
	return fmt.Errorf("rotate keyring: secret %s changed concurrently %d times", k.name, maxRotateAttempts)
}

// Reload re-reads the Secret so that a rotation done by another replica takes effect
// here, after rotating it first if its RotateAnnotation asks for a rotation not done yet: the Secret's active key seals from now on. Keys this ring holds that the
// Secret lacks are kept for opening while they are within KeyRetention, so a reload
// never makes live sessions unreadable. If the Secret is gone it is created afresh
// (its new key seals; the old keys still open here). On error (unreadable or malformed
// Secret) the ring is unchanged.
func (k *Keyring) Reload(ctx context.Context) error {
	if k.secrets == nil {
		return errors.New("reload: keyring was not loaded from a secret")
	}
	k.reloadMu.Lock()
	defer k.reloadMu.Unlock()
	if err := k.rotateIfAsked(ctx); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	fresh, err := k.getOrCreate(ctx)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	k.state.Store(k.current().merged(fresh, k.clock()))
	return nil
}

// RunReload calls Reload every interval until ctx ends, logging failures (the ring
// stays as it was). The interval should be short (zero means a minute): until a replica reloads
// it keeps sealing with the previous key, and KeyRetention allows a day for that.
func (k *Keyring) RunReload(ctx context.Context, interval time.Duration, logger *slog.Logger) {
	if logger == nil {
		logger = slog.Default()
	}
	if interval <= 0 {
		interval = defaultReloadInterval
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if err := k.Reload(ctx); err != nil && !errors.Is(err, context.Canceled) {
				logger.ErrorContext(ctx, "could not reload session encryption keys", "name", k.name, "error", err)
			}
		}
	}
}
