// SPDX-License-Identifier: Apache-2.0

package sessionstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// listPageSize is how many Secrets List asks for at a time.
const listPageSize = 500

// secretStore is a Store with one Secret per session (format: SessionSecretType).
// Concurrency control is the API server's: ResourceVersion is the Secret's
// resourceVersion, and writes are conditional on it.
type secretStore struct {
	secrets corev1client.SecretInterface
	sealer  Sealer
	log     *slog.Logger
	memo    *decodedMemo
}

var _ Store = (*secretStore)(nil)

// SecretStoreOption configures NewSecretStore.
type SecretStoreOption func(*secretStore)

// WithLogger sets the logger that reports Secrets List skips because they cannot be
// decoded (default slog.Default()). Nothing secret is logged: only names and errors.
func WithLogger(logger *slog.Logger) SecretStoreOption {
	return func(s *secretStore) {
		if logger != nil {
			s.log = logger
		}
	}
}

// NewSecretStore returns a Store that keeps each session in a Secret of secrets (one
// namespace), sealing UpstreamData with sealer (which must not be nil; normally a
// Keyring). Several supervisor replicas may share the namespace.
func NewSecretStore(secrets corev1client.SecretInterface, sealer Sealer, opts ...SecretStoreOption) Store {
	s := &secretStore{secrets: secrets, sealer: sealer, log: slog.Default(), memo: newDecodedMemo(decodedMemoSize)}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// Create implements Store.
func (st *secretStore) Create(ctx context.Context, s *Session) error {
	if err := validateID(s.ID); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	secret, decoded, err := encodeSecretDecoded(s, st.sealer)
	if err != nil {
		return fmt.Errorf("create session %s: %w", s.ID, err)
	}
	created, err := st.secrets.Create(ctx, secret, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create session %s: %w", s.ID, ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("create session %s: %w", s.ID, err)
	}
	s.ResourceVersion = created.ResourceVersion
	st.memo.remember(s.ID, decoded)
	return nil
}

// Get implements Store. A Secret that exists but cannot be decoded is ErrCorrupt.
func (st *secretStore) Get(ctx context.Context, id string) (*Session, error) {
	if validateID(id) != nil {
		// No such session can exist, and the ID must not reach the API as a name.
		return nil, fmt.Errorf("get session %q: %w", id, ErrNotFound)
	}
	secret, err := st.secrets.Get(ctx, secretName(id), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		st.memo.forget(id)
		return nil, fmt.Errorf("get session %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get session %s: %w", id, err)
	}
	s, err := st.memo.decode(secret, st.sealer)
	if err != nil {
		return nil, fmt.Errorf("get session %s: %w", id, err)
	}
	return s, nil
}

// Update implements Store. The Secret is replaced at s.ResourceVersion; an empty
// ResourceVersion is a conflict (an update must be based on a read), which the API
// server would otherwise treat as an unconditional write.
func (st *secretStore) Update(ctx context.Context, s *Session) error {
	if validateID(s.ID) != nil {
		return fmt.Errorf("update session %q: %w", s.ID, ErrNotFound)
	}
	if s.ResourceVersion == "" {
		return st.updateWithoutVersion(ctx, s.ID)
	}
	secret, decoded, err := encodeSecretDecoded(s, st.sealer)
	if err != nil {
		return fmt.Errorf("update session %s: %w", s.ID, err)
	}
	secret.ResourceVersion = s.ResourceVersion
	updated, err := st.secrets.Update(ctx, secret, metav1.UpdateOptions{})
	switch {
	case apierrors.IsConflict(err):
		return fmt.Errorf("update session %s at version %q: %w", s.ID, s.ResourceVersion, ErrConflict)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("update session %s: %w", s.ID, ErrNotFound)
	case err != nil:
		return fmt.Errorf("update session %s: %w", s.ID, err)
	}
	s.ResourceVersion = updated.ResourceVersion
	st.memo.remember(s.ID, decoded)
	return nil
}

// updateWithoutVersion returns the error of an Update without ResourceVersion:
// ErrNotFound if the session is gone, ErrConflict otherwise.
func (st *secretStore) updateWithoutVersion(ctx context.Context, id string) error {
	_, err := st.secrets.Get(ctx, secretName(id), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("update session %s: %w", id, ErrNotFound)
	case err != nil:
		return fmt.Errorf("update session %s: %w", id, err)
	}
	return fmt.Errorf("update session %s without a resource version: %w", id, ErrConflict)
}

// Delete implements Store, with the resourceVersion as a precondition when given.
func (st *secretStore) Delete(ctx context.Context, id, resourceVersion string) error {
	if validateID(id) != nil {
		return fmt.Errorf("delete session %q: %w", id, ErrNotFound)
	}
	var opts metav1.DeleteOptions
	if resourceVersion != "" {
		opts.Preconditions = &metav1.Preconditions{ResourceVersion: &resourceVersion}
	}
	err := st.secrets.Delete(ctx, secretName(id), opts)
	if err == nil || apierrors.IsNotFound(err) {
		st.memo.forget(id)
	}
	switch {
	case apierrors.IsConflict(err):
		return fmt.Errorf("delete session %s at version %q: %w", id, resourceVersion, ErrConflict)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("delete session %s: %w", id, ErrNotFound)
	case err != nil:
		return fmt.Errorf("delete session %s: %w", id, err)
	}
	return nil
}

// List implements Store. Issuer and Username select by the hashed labels and
// ExpiredBefore by the expires annotation, so Secrets that do not match are never
// unsealed. Secrets that cannot be decoded are logged and skipped: one bad Secret must
// not stop the garbage collector or a user's logout from seeing the others.
func (st *secretStore) List(ctx context.Context, opts ListOptions) ([]*Session, error) {
	selector := labels.Set{labelType: labelTypeSession}
	if opts.Issuer != "" {
		selector[labelIssuer] = hashLabel(opts.Issuer)
	}
	if opts.Username != "" {
		selector[labelUsername] = hashLabel(opts.Username)
	}
	listOpts := metav1.ListOptions{LabelSelector: selector.String(), Limit: listPageSize}
	var out []*Session
	for {
		page, err := st.secrets.List(ctx, listOpts)
		if err != nil {
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		for i := range page.Items {
			if s := st.listed(ctx, &page.Items[i], opts); s != nil {
				out = append(out, s)
			}
		}
		if page.Continue == "" {
			return out, nil
		}
		listOpts.Continue = page.Continue
	}
}

// listed returns the session in secret if it matches opts, nil otherwise.
func (st *secretStore) listed(ctx context.Context, secret *corev1.Secret, opts ListOptions) *Session {
	if !opts.ExpiredBefore.IsZero() {
		// A readable annotation saves unsealing live sessions; without one, the stored
		// session's own expiry decides below.
		if expires, err := secretExpires(secret); err == nil && !expires.Before(opts.ExpiredBefore) {
			return nil
		}
	}
	s, err := decodeSecret(secret, st.sealer)
	if err != nil {
		st.log.WarnContext(ctx, "skipping unreadable session secret", "name", secret.Name, "error", err)
		return nil
	}
	// The labels and the annotation are only an index: the stored session decides.
	if !matches(s, opts) {
		st.log.WarnContext(ctx, "skipping session secret whose labels or annotations do not match its contents", "name", secret.Name)
		return nil
	}
	return s
}

// Count implements Counter: it counts the session Secrets, readable or not, page by page.
func (st *secretStore) Count(ctx context.Context) (int, error) {
	listOpts := metav1.ListOptions{LabelSelector: labels.Set{labelType: labelTypeSession}.String(), Limit: listPageSize}
	n := 0
	for {
		page, err := st.secrets.List(ctx, listOpts)
		if err != nil {
			return n, fmt.Errorf("count sessions: %w", err)
		}
		n += len(page.Items)
		if page.Continue == "" {
			return n, nil
		}
		listOpts.Continue = page.Continue
	}
}

// DeleteUnreadable implements UnreadableCollector: it deletes the session Secrets that
// cannot be decoded (after a keyring loss, for instance) and expired before
// expiredBefore, by their expires annotation or, when that cannot be read either, by
// UnreadableMaxAge after their creation. Each deletion is conditional on the version
// read, so a Secret rewritten meanwhile stays for the next round.
func (st *secretStore) DeleteUnreadable(ctx context.Context, expiredBefore time.Time) (int, error) {
	listOpts := metav1.ListOptions{LabelSelector: labels.Set{labelType: labelTypeSession}.String(), Limit: listPageSize}
	deleted := 0
	var errs []error
	for {
		page, err := st.secrets.List(ctx, listOpts)
		if err != nil {
			return deleted, fmt.Errorf("list sessions: %w", err)
		}
		for i := range page.Items {
			secret := &page.Items[i]
			expires, err := secretExpires(secret)
			if err != nil {
				expires = secret.CreationTimestamp.Add(UnreadableMaxAge)
			}
			if !expires.Before(expiredBefore) {
				continue
			}
			_, decodeErr := decodeSecret(secret, st.sealer)
			if decodeErr == nil {
				continue // readable: the collector's List returned it
			}
			id, _ := strings.CutPrefix(secret.Name, secretNamePrefix)
			switch err := st.Delete(ctx, id, secret.ResourceVersion); {
			case err == nil:
				deleted++
				st.log.WarnContext(ctx, "deleted unreadable expired session", "name", secret.Name, "reason", decodeErr.Error())
			case errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict):
			default:
				errs = append(errs, fmt.Errorf("delete unreadable session %s: %w", secret.Name, err))
			}
		}
		if page.Continue == "" {
			return deleted, errors.Join(errs...)
		}
		listOpts.Continue = page.Continue
	}
}
