// SPDX-License-Identifier: Apache-2.0

package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"time"
)

// Bundle holds the trust roots loaded from a Spec. The zero Bundle means the
// system roots.
type Bundle struct {
	pem  []byte
	pool *x509.CertPool
}

// PEM returns the PEM CA bundle, or nil when the system roots are used.
func (b *Bundle) PEM() []byte { return b.pem }

// CertPool returns the roots, or nil (meaning the system roots) when no bundle
// was configured.
func (b *Bundle) CertPool() *x509.CertPool { return b.pool }

// TLSConfig returns a client TLS configuration that trusts the bundle and
// requires TLS 1.2 or later.
func (b *Bundle) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: b.pool, MinVersion: tls.VersionTLS12}
}

// HTTPClient returns an HTTP client that trusts the bundle, honours the
// standard proxy environment variables and gives up after timeout.
func (b *Bundle) HTTPClient(timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		TLSClientConfig:       b.TLSConfig(),
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          10,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}
