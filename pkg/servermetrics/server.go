// SPDX-License-Identifier: Apache-2.0

package servermetrics

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	certutil "k8s.io/client-go/util/cert"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// ValidateAddress checks --metrics-address: empty (no metrics endpoint) or host:port.
func ValidateAddress(address string) error {
	if address == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("--metrics-address %q: use host:port, such as :10251", address)
	}
	if host != "" && net.ParseIP(host) == nil {
		return fmt.Errorf("--metrics-address %q: the host must be an IP address or empty (every address)", address)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("--metrics-address %q: %q is not a port", address, port)
	}
	return nil
}

// ServerOptions configures the controller manager's metrics server: off for an empty
// address; otherwise HTTPS on address, with every request authenticated by a TokenReview
// and authorized by a SubjectAccessReview (verb get on the path), so that a
// ServiceAccount bound to a role with get on the non-resource URL /metrics can scrape.
// The certificate is the aggregated API's serving certificate, which the server keeps in
// certDir as tls.crt and tls.key (reloaded when the files change); until those exist, or
// without a certDir, a self-signed one.
func ServerOptions(address, certDir string, log *slog.Logger) metricsserver.Options {
	if address == "" {
		return metricsserver.Options{BindAddress: "0"}
	}
	certs := &fileCert{log: log}
	if certDir != "" {
		certs.certFile, certs.keyFile = filepath.Join(certDir, corev1.TLSCertKey), filepath.Join(certDir, corev1.TLSPrivateKeyKey)
	}
	return metricsserver.Options{
		BindAddress:    address,
		SecureServing:  true,
		FilterProvider: delegatedAuth(log),
		TLSOpts: []func(*tls.Config){func(c *tls.Config) {
			c.MinVersion = tls.VersionTLS12
			// HTTP/1.1 only: a scrape needs nothing more, and this keeps HTTP/2's
			// denial-of-service surface (rapid reset) off the port.
			c.NextProtos = []string{"http/1.1"}
			c.GetCertificate = certs.get
		}},
	}
}

// fileCert serves the certificate in certFile and keyFile, reading them again when
// certFile's modification time changes, or a self-signed certificate while they cannot
// be read (or are not named).
type fileCert struct {
	certFile, keyFile string
	log               *slog.Logger

	mu       sync.Mutex
	modTime  time.Time
	cert     *tls.Certificate
	fallback *tls.Certificate
}

func (f *fileCert) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, err := os.Stat(f.certFile); f.certFile != "" && err == nil {
		if f.cert != nil && st.ModTime().Equal(f.modTime) {
			return f.cert, nil
		}
		c, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
		if err == nil {
			f.cert, f.modTime = &c, st.ModTime()
			return f.cert, nil
		}
		f.log.Warn("could not load the metrics serving certificate", "file", f.certFile, "error", err)
		if f.cert != nil { // a half-written pair: keep the last good one
			return f.cert, nil
		}
	}
	if f.fallback == nil {
		certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey("localhost", []net.IP{net.IPv4(127, 0, 0, 1)}, nil)
		if err != nil {
			return nil, fmt.Errorf("self-signed metrics certificate: %w", err)
		}
		c, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, err
		}
		f.fallback = &c
	}
	return f.fallback, nil
}
