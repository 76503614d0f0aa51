// SPDX-License-Identifier: Apache-2.0

package signingkey

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/selkie-dev/selkie/pkg/certauthority"
)

// KeepKeyOnReadErrors is how long a loaded key survives reads that fail for reasons
// other than the key being gone (the API server restarting, a timeout): dropping it would
// send logins to the next strategy, whose certificates the cluster may not accept.
const KeepKeyOnReadErrors = 10 * time.Minute

// ErrKeyGone marks a load error that says the key is no longer there to read (the Secret
// or file is missing, access was revoked, the content is invalid): the loaded key is
// dropped at once.
var ErrKeyGone = errors.New("the signing key is gone")

// ErrNoKey is returned while no signing key could be loaded.
var ErrNoKey = errors.New("no cluster signing key is loaded")

// Source reads the signing certificate and key, both PEM.
type Source interface {
	Load(ctx context.Context) (certPEM, keyPEM []byte, err error)
	String() string
}

// Files reads the key pair from two files (e.g. a mounted kubeadm /etc/kubernetes/pki).
type Files struct{ CertFile, KeyFile string }

// Load reads both files.
func (f Files) Load(context.Context) ([]byte, []byte, error) {
	cert, err := os.ReadFile(f.CertFile)
	if err != nil {
		return nil, nil, fileError(err)
	}
	key, err := os.ReadFile(f.KeyFile)
	if err != nil {
		return nil, nil, fileError(err)
	}
	return cert, key, nil
}

func fileError(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w: %w", ErrKeyGone, err)
	}
	return err
}

func (f Files) String() string { return "files " + f.CertFile + " and " + f.KeyFile }

// Secret reads the key pair from the tls.crt and tls.key entries of a Secret.
type Secret struct {
	Client          kubernetes.Interface
	Namespace, Name string
}

// Load reads the Secret.
func (s Secret) Load(ctx context.Context) ([]byte, []byte, error) {
	sec, err := s.Client.CoreV1().Secrets(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) || apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
		return nil, nil, fmt.Errorf("%w: %w", ErrKeyGone, err)
	case err != nil:
		return nil, nil, err
	}
	cert, key := sec.Data[corev1.TLSCertKey], sec.Data[corev1.TLSPrivateKeyKey]
	if len(cert) == 0 || len(key) == 0 {
		return nil, nil, fmt.Errorf("%w: secret %s/%s lacks %s or %s", ErrKeyGone, s.Namespace, s.Name, corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	}
	return cert, key, nil
}

func (s Secret) String() string { return "Secret " + s.Namespace + "/" + s.Name }

// Issuer signs client certificates with the cluster signing key from its Source.
type Issuer struct {
	src   Source
	ttl   time.Duration
	clock func() time.Time
	log   *slog.Logger

	mu       sync.RWMutex
	ca       *certauthority.CA
	loadErr  error
	loadedAt time.Time // last successful read

	// OnChange, when set (before Refresh or Run is first called), is called after a
	// Refresh that made the key available or unavailable.
	OnChange func()
}

// New returns an Issuer for certificates of lifetime ttl; call Refresh (or Run) to load
// the key. A nil clock means time.Now.
func New(src Source, ttl time.Duration, clock func() time.Time, log *slog.Logger) (*Issuer, error) {
	if err := certauthority.ValidateTTL(ttl); err != nil {
		return nil, err
	}
	if clock == nil {
		clock = time.Now
	}
	return &Issuer{src: src, ttl: ttl, clock: clock, log: log, loadErr: ErrNoKey}, nil
}

// Refresh reloads the key pair. A reload that finds the key gone (ErrKeyGone) or invalid
// drops it: certificates from a key that was removed should not be issued. Any other
// failure keeps the loaded key for up to KeepKeyOnReadErrors since the last good read.
func (i *Issuer) Refresh(ctx context.Context) error {
	changed, err := i.refresh(ctx)
	if changed && i.OnChange != nil {
		i.OnChange()
	}
	return err
}

// refresh is Refresh, also reporting whether the key became available or unavailable.
func (i *Issuer) refresh(ctx context.Context) (changed bool, err error) {
	certPEM, keyPEM, err := i.src.Load(ctx)
	var ca *certauthority.CA
	if err == nil {
		if ca, err = certauthority.Load(certPEM, keyPEM, certauthority.WithClock(i.clock)); err != nil {
			err = fmt.Errorf("%w: %w", ErrKeyGone, err)
		}
	}
	if err != nil {
		err = fmt.Errorf("load cluster signing key from %s: %w", i.src, err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	now := i.clock()
	if err != nil && !errors.Is(err, ErrKeyGone) && i.ca != nil && now.Sub(i.loadedAt) < KeepKeyOnReadErrors {
		i.log.WarnContext(ctx, "could not re-read the cluster signing key; still issuing with the one loaded",
			"error", err, "loadedAt", i.loadedAt)
		return false, err
	}
	if err == nil {
		i.loadedAt = now
	}
	if (err == nil) != (i.loadErr == nil) {
		if err != nil {
			i.log.ErrorContext(ctx, "cluster signing key unavailable", "error", err)
		} else {
			i.log.InfoContext(ctx, "cluster signing key loaded", "source", i.src.String(), "expires", ca.NotAfter())
		}
		changed = true
	}
	i.ca, i.loadErr = ca, err
	return changed, err
}

// MissingRetry is how soon Run reads the key again while none is loaded: a Secret
// created after the install is picked up within seconds, not a whole period.
const MissingRetry = 5 * time.Second

// Run refreshes every period (every MissingRetry while no key is loaded) until ctx ends.
func (i *Issuer) Run(ctx context.Context, period time.Duration) {
	for {
		wait := period
		if i.Status() != nil && MissingRetry < period {
			wait = MissingRetry
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
			_ = i.Refresh(ctx)
		}
	}
}

// Status is nil while a key is loaded, else why not.
func (i *Issuer) Status() error {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.loadErr
}

// IssueClientCert signs a certificate for username in groups.
func (i *Issuer) IssueClientCert(_ context.Context, username string, groups []string) (*certauthority.KeyPair, error) {
	i.mu.RLock()
	ca, err := i.ca, i.loadErr
	i.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	return ca.IssueClientCert(username, groups, i.ttl)
}
