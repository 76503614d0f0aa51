// SPDX-License-Identifier: Apache-2.0

package impersonationproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/selkie-dev/selkie/pkg/certauthority"
	"github.com/selkie-dev/selkie/pkg/internal/casecret"
)

// Signer CA parameters (docs/concierge.md, "Impersonation proxy").
const (
	SignerLifetime    = 365 * 24 * time.Hour
	SignerRenewBefore = time.Hour
	// SignerActivationDelay is how long a new signer CA is only trusted, not used: every
	// replica re-reads the Secret within its resync period (30 s by default) and so trusts
	// the new CA before any certificate from it reaches it. Meanwhile the previous CA
	// issues.
	SignerActivationDelay = 2 * time.Minute
	signerCommonName      = "impersonation-proxy-signer"
	caCertKey             = "ca.crt"
	caKeyKey              = "ca.key"
	// The CA a rotation replaced stays in the Secret, and trusted, until it expires, so
	// that certificates it issued keep working for their few minutes.
	previousCACertKey = "previous-ca.crt"
	previousCAKeyKey  = "previous-ca.key"
)

// errNotRunning is the signer's status while the proxy does not run: certificates it
// signs would be trusted by nothing.
var errNotRunning = errors.New("impersonation proxy is not running")

// SignerCAs are the CAs in the signer Secret: Current, and Previous (the CA Current
// replaced, while it is valid), both trusted by the proxy.
type SignerCAs struct {
	Current, Previous *certauthority.CA
}

// Same reports whether o holds the same certificates as c.
func (c SignerCAs) Same(o SignerCAs) bool {
	return samePEM(c.Current, o.Current) && samePEM(c.Previous, o.Previous)
}

func samePEM(a, b *certauthority.CA) bool {
	if a == nil || b == nil {
		return a == b
	}
	return bytes.Equal(a.CertPEM(), b.CertPEM())
}

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
	cas    SignerCAs
	err    error
	active bool
}

// Refresh loads the CAs from the Secret, creating it when missing and rotating when the
// current CA expires within SignerRenewBefore. While the Secret is unchanged it returns
// the very CAs it returned before.
func (s *Signer) Refresh(ctx context.Context) (SignerCAs, error) {
	s.mu.Lock()
	known := s.cas
	s.mu.Unlock()
	cas, err := s.load(ctx, known)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
	if err == nil {
		s.cas = cas
	}
	return s.cas, err
}

func (s *Signer) now() time.Time {
	if s.Clock != nil {
		return s.Clock()
	}
	return time.Now()
}

// parse loads the CA in certPEM and keyPEM, reusing known when it is the same
// certificate; nil if the pair is missing, invalid or expired.
func (s *Signer) parse(certPEM, keyPEM []byte, known *certauthority.CA) *certauthority.CA {
	if len(certPEM) == 0 {
		return nil
	}
	if known != nil && bytes.Equal(known.CertPEM(), certPEM) && known.NotAfter().After(s.now()) {
		return known
	}
	ca, err := certauthority.Load(certPEM, keyPEM, certauthority.WithClock(s.now))
	if err != nil {
		return nil
	}
	return ca
}

func (s *Signer) load(ctx context.Context, known SignerCAs) (SignerCAs, error) {
	policy := casecret.Policy{CommonName: signerCommonName, Lifetime: SignerLifetime, RenewBefore: SignerRenewBefore, Clock: s.now}
	data, _, err := casecret.Update(ctx, s.Kube.CoreV1().Secrets(s.Namespace), s.Name, corev1.SecretTypeOpaque,
		func(old map[string][]byte) (map[string][]byte, bool, error) {
			rot, err := policy.Renew(old[caCertKey], old[caKeyKey])
			if err != nil || !rot.Renewed {
				return old, false, err
			}
			certPEM, keyPEM, err := rot.CA.PEM()
			if err != nil {
				return nil, false, err
			}
			data := map[string][]byte{caCertKey: certPEM, caKeyKey: keyPEM}
			if rot.Replaced != nil { // expiring, not expired: keep trusting it
				data[previousCACertKey], data[previousCAKeyKey] = old[caCertKey], old[caKeyKey]
			}
			return data, true, nil
		})
	if err != nil {
		return SignerCAs{}, fmt.Errorf("signer CA Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	current := s.parse(data[caCertKey], data[caKeyKey], known.Current)
	if current == nil {
		return SignerCAs{}, fmt.Errorf("signer CA Secret %s/%s holds no valid CA", s.Namespace, s.Name)
	}
	return SignerCAs{Current: current, Previous: s.parse(data[previousCACertKey], data[previousCAKeyKey], known.Previous)}, nil
}

// CAs returns the last loaded CAs.
func (s *Signer) CAs() SignerCAs {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cas
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
	case s.cas.Current == nil && s.err != nil:
		return fmt.Errorf("impersonation proxy signer CA: %w", s.err)
	case s.cas.Current == nil:
		return errors.New("impersonation proxy signer CA is not loaded yet")
	}
	return nil
}

// issuing is the CA that signs now: the current one, unless it is younger than
// SignerActivationDelay and the previous one outlives the certificate.
func (s *Signer) issuing() *certauthority.CA {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, prev := s.cas.Current, s.cas.Previous
	now := s.now()
	made := cur.NotBefore().Add(certauthority.Backdate)
	if prev != nil && now.Sub(made) < SignerActivationDelay && prev.NotAfter().After(now.Add(s.TTL)) {
		return prev
	}
	return cur
}

// IssueClientCert signs a client certificate for the proxy with the TTL.
func (s *Signer) IssueClientCert(_ context.Context, username string, groups []string) (*certauthority.KeyPair, error) {
	if err := s.Status(); err != nil {
		return nil, err
	}
	return s.issuing().IssueClientCert(username, groups, s.TTL)
}
