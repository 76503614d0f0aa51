// SPDX-License-Identifier: Apache-2.0

// Package issuer holds the concierge's certificate issuing strategies (one subpackage
// each) and Chain, which tries them in the contract's order.
package issuer

import (
	"context"
	"errors"

	"github.com/selkie-dev/selkie/pkg/certauthority"
	"github.com/selkie-dev/selkie/pkg/servermetrics"
)

// Strategy issues client certificates.
type Strategy interface {
	IssueClientCert(ctx context.Context, username string, groups []string) (*certauthority.KeyPair, error)
}

// statuser is implemented by strategies that know in advance they cannot issue.
type statuser interface{ Status() error }

// Named is a strategy with its CredentialIssuer strategy type (KubeClusterSigningCertificate,
// KubeCSRSigningCertificate or ImpersonationProxy), which labels the certificates it
// issues in selkie_concierge_certificates_issued_total.
type Named struct {
	Type string
	Strategy
}

// Chain issues with the first strategy that is ready, in order (contract §4.1: the
// cluster signing key first, then the CSR API, then the impersonation proxy's CA).
type Chain []Named

// ErrNoStrategy is returned when no strategy is configured.
var ErrNoStrategy = errors.New("no certificate issuing strategy is configured")

// IssueClientCert issues with the first ready strategy; a strategy that fails is not
// followed by the next, so a user never gets a certificate from an unexpected signer
// because of a transient error.
func (c Chain) IssueClientCert(ctx context.Context, username string, groups []string) (*certauthority.KeyPair, error) {
	var notReady []error
	for _, s := range c {
		if st, ok := s.Strategy.(statuser); ok {
			if err := st.Status(); err != nil {
				notReady = append(notReady, err)
				continue
			}
		}
		kp, err := s.IssueClientCert(ctx, username, groups)
		if err == nil {
			servermetrics.CertificatesIssued.WithLabelValues(s.Type).Inc()
		}
		return kp, err
	}
	if len(notReady) == 0 {
		return nil, ErrNoStrategy
	}
	return nil, errors.Join(notReady...)
}
