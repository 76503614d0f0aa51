// SPDX-License-Identifier: Apache-2.0

package signingkey

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/selkie-dev/selkie/pkg/certauthority"
)

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
		return nil, nil, err
	}
	key, err := os.ReadFile(f.KeyFile)
	return cert, key, err
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
	if err != nil {
		return nil, nil, err
	}
	cert, key := sec.Data[corev1.TLSCertKey], sec.Data[corev1.TLSPrivateKeyKey]
	if len(cert) == 0 || len(key) == 0 {
		return nil, nil, fmt.Errorf("secret %s/%s lacks %s or %s", s.Namespace, s.Name, corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
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

	mu      sync.RWMutex
	ca      *certauthority.CA
	loadErr error
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

// Refresh reloads the key pair. A failed reload keeps no key: certificates from a
// key that can no longer be read should not be issued.
func (i *Issuer) Refresh(ctx context.Context) error {
	certPEM, keyPEM, err := i.src.Load(ctx)
	var ca *certauthority.CA
	if err == nil {
		ca, err = certauthority.Load(certPEM, keyPEM, certauthority.WithClock(i.clock))
	}
	if err != nil {
		err = fmt.Errorf("load cluster signing key from %s: %w", i.src, err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if (err == nil) != (i.loadErr == nil) {
		if err != nil {
			i.log.ErrorContext(ctx, "cluster signing key unavailable", "error", err)
		} else {
			i.log.InfoContext(ctx, "cluster signing key loaded", "source", i.src.String(), "expires", ca.NotAfter())
		}
	}
	i.ca, i.loadErr = ca, err
	return err
}

// Run refreshes every period until ctx ends.
func (i *Issuer) Run(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
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
