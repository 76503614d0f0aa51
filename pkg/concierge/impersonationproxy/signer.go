// SPDX-License-Identifier: Apache-2.0

package impersonationproxy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/selkie-dev/selkie/pkg/certauthority"
)

// Signer CA parameters (wire contract §4.1).
const (
	SignerLifetime    = 365 * 24 * time.Hour
	SignerRenewBefore = time.Hour
	signerCommonName  = "impersonation-proxy-signer"
	caCertKey         = "ca.crt"
	caKeyKey          = "ca.key"
)

// errNotRunning is the signer's status while the proxy does not run: certificates it
// signs would be trusted by nothing.
var errNotRunning = errors.New("impersonation proxy is not running")

// Signer is the impersonation proxy's signer CA, persisted in the Secret Name in
// Namespace so that replicas share it, and the last issuing strategy of the chain. Its
// certificates are trusted only by the proxy, so it is ready only while the proxy runs.
type Signer struct {
	Kube      kubernetes.Interface
	Namespace string
	Name      string
	TTL       time.Duration    // lifetime of issued client certificates
	Clock     func() time.Time // nil: time.Now

	mu     sync.Mutex
	ca     *certauthority.CA
	err    error
	active bool
}

// Refresh loads the CA from the Secret, creating it when missing and replacing it when it
// expires within SignerRenewBefore. It returns the current CA.
func (s *Signer) Refresh(ctx context.Context) (*certauthority.CA, error) {
	ca, err := s.load(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
	if err == nil {
		s.ca = ca
	}
	return s.ca, err
}

func (s *Signer) now() time.Time {
	if s.Clock != nil {
		return s.Clock()
	}
	return time.Now()
}

func (s *Signer) load(ctx context.Context) (*certauthority.CA, error) {
	secrets := s.Kube.CoreV1().Secrets(s.Namespace)
	for range 3 {
		secret, err := secrets.Get(ctx, s.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			secret = nil
		} else if err != nil {
			return nil, fmt.Errorf("read signer CA Secret %s/%s: %w", s.Namespace, s.Name, err)
		}
		if secret != nil {
			ca, err := certauthority.Load(secret.Data[caCertKey], secret.Data[caKeyKey], certauthority.WithClock(s.now))
			if err == nil && ca.NotAfter().Sub(s.now()) > SignerRenewBefore {
				return ca, nil
			}
		}
		ca, err := certauthority.New(signerCommonName, SignerLifetime, certauthority.WithClock(s.now))
		if err != nil {
			return nil, err
		}
		certPEM, keyPEM, err := ca.PEM()
		if err != nil {
			return nil, err
		}
		data := map[string][]byte{caCertKey: certPEM, caKeyKey: keyPEM}
		if secret == nil {
			_, err = secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace},
				Type: corev1.SecretTypeOpaque, Data: data}, metav1.CreateOptions{})
		} else {
			secret = secret.DeepCopy()
			secret.Data = data
			_, err = secrets.Update(ctx, secret, metav1.UpdateOptions{})
		}
		switch {
		case err == nil:
			return ca, nil
		case apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err):
			continue // another replica wrote it first: use theirs
		default:
			return nil, fmt.Errorf("write signer CA Secret %s/%s: %w", s.Namespace, s.Name, err)
		}
	}
	return nil, fmt.Errorf("signer CA Secret %s/%s keeps changing", s.Namespace, s.Name)
}

// CA returns the last loaded CA, or nil.
func (s *Signer) CA() *certauthority.CA {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ca
}

// setActive records whether the proxy runs.
func (s *Signer) setActive(active bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active = active
}

// Status is nil when the signer can issue: the proxy runs and the CA is loaded.
func (s *Signer) Status() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.active:
		return errNotRunning
	case s.ca == nil && s.err != nil:
		return fmt.Errorf("impersonation proxy signer CA: %w", s.err)
	case s.ca == nil:
		return errors.New("impersonation proxy signer CA is not loaded yet")
	}
	return nil
}

// IssueClientCert signs a client certificate for the proxy with the TTL.
func (s *Signer) IssueClientCert(_ context.Context, username string, groups []string) (*certauthority.KeyPair, error) {
	if err := s.Status(); err != nil {
		return nil, err
	}
	return s.CA().IssueClientCert(username, groups, s.TTL)
}
