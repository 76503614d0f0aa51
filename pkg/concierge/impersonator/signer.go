// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"crypto/x509"
	"sync"
	"sync/atomic"

	"k8s.io/apiserver/pkg/server/dynamiccertificates"

	"github.com/selkie-dev/selkie/pkg/certauthority"
)

// signerCAContent serves the proxy signer CA to k8s.io/apiserver's x509 authenticator and
// lets the caller swap it when the CA is rotated.
type signerCAContent struct {
	current atomic.Pointer[signerBundle]

	mu        sync.Mutex
	listeners []dynamiccertificates.Listener
}

type signerBundle struct {
	pem  []byte
	opts x509.VerifyOptions
}

var _ dynamiccertificates.CAContentProvider = (*signerCAContent)(nil)

// set makes cas the trusted signers (nil entries are skipped); none trusts no signer
// certificates.
func (s *signerCAContent) set(cas ...*certauthority.CA) {
	pool := x509.NewCertPool()
	var bundle []byte
	for _, ca := range cas {
		if ca != nil {
			pool.AppendCertsFromPEM(ca.CertPEM())
			bundle = append(bundle, ca.CertPEM()...)
		}
	}
	if len(bundle) == 0 {
		s.current.Store(nil)
	} else {
		s.current.Store(&signerBundle{
			pem:  bundle,
			opts: x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}},
		})
	}
	s.mu.Lock()
	listeners := append([]dynamiccertificates.Listener(nil), s.listeners...)
	s.mu.Unlock()
	for _, l := range listeners {
		l.Enqueue()
	}
}

// Name identifies the provider in k8s.io/apiserver logs.
func (s *signerCAContent) Name() string { return "impersonation-proxy-signer-ca" }

// CurrentCABundleContent returns the signer CA certificate (PEM), or nil.
func (s *signerCAContent) CurrentCABundleContent() []byte {
	if b := s.current.Load(); b != nil {
		return b.pem
	}
	return nil
}

// VerifyOptions trusts only the signer CA, for client authentication; false while there
// is no signer.
func (s *signerCAContent) VerifyOptions() (x509.VerifyOptions, bool) {
	b := s.current.Load()
	if b == nil {
		return x509.VerifyOptions{}, false
	}
	return b.opts, true
}

// AddListener registers l to be told when the signer changes.
func (s *signerCAContent) AddListener(l dynamiccertificates.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listeners = append(s.listeners, l)
}
