// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"bytes"
	"crypto/x509"
	"net/http"
	"sync"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	certutil "k8s.io/client-go/util/cert"
)

// caCandidate is one CA's client-certificate authenticator and that CA's bundle.
type caCandidate struct {
	authn  authenticator.Request
	bundle func() []byte

	mu       sync.Mutex
	parsed   []byte              // the bundle subjects was computed from
	subjects map[string]struct{} // the raw subjects of the bundle's certificates
}

// mayHaveIssued reports whether a certificate of the bundle is named as the issuer of a
// presented certificate: without one, verification against this CA cannot succeed.
func (c *caCandidate) mayHaveIssued(presented []*x509.Certificate) bool {
	bundle := c.bundle()
	c.mu.Lock()
	if c.subjects == nil || !bytes.Equal(bundle, c.parsed) {
		c.subjects, c.parsed = bundleSubjects(bundle), bundle
	}
	subjects := c.subjects
	c.mu.Unlock()
	for _, cert := range presented {
		if _, ok := subjects[string(cert.RawIssuer)]; ok {
			return true
		}
	}
	return false
}

// bundleSubjects returns the raw subjects of a PEM bundle's certificates; none for a
// bundle that does not parse (then every CA is tried, and the verifier reports it).
func bundleSubjects(bundle []byte) map[string]struct{} {
	out := map[string]struct{}{}
	certs, err := certutil.ParseCertsPEM(bundle)
	if err != nil {
		return out
	}
	for _, cert := range certs {
		out[string(cert.RawSubject)] = struct{}{}
	}
	return out
}

// issuerRouted authenticates a client certificate with the CAs in order, as a union of
// their authenticators would, but skips a CA whose certificates are not named as the
// issuer of any presented certificate while another CA's are: its verification could only
// fail, and a failed verification (chain building, then the error's formatting) cost
// every request from the other CA's clients about 10 % of the proxy's CPU. When no CA is
// named, every one is tried, so a certificate from an unknown CA fails as before (an
// error, never anonymous).
type issuerRouted []*caCandidate

// AuthenticateRequest tries the CAs that may have issued the presented chain.
func (cas issuerRouted) AuthenticateRequest(r *http.Request) (*authenticator.Response, bool, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, false, nil
	}
	tries := make([]*caCandidate, 0, len(cas))
	for _, ca := range cas {
		if ca.mayHaveIssued(r.TLS.PeerCertificates) {
			tries = append(tries, ca)
		}
	}
	if len(tries) == 0 {
		tries = cas
	}
	var errs []error
	for _, ca := range tries {
		resp, ok, err := ca.authn.AuthenticateRequest(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			return resp, true, nil
		}
	}
	return nil, false, utilerrors.NewAggregate(errs)
}
