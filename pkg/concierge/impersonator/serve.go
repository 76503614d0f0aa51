// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// shutdownGrace is how long Serve lets in-flight requests finish once ctx ends; then
// every remaining request, including upgraded exec and port-forward streams, is cut.
const shutdownGrace = 5 * time.Second

// Serve serves the proxy over TLS on l with one serving certificate (PEM) until ctx ends,
// then shuts down gracefully. It speaks HTTP/2 and HTTP/1.1 (which upgrades need) and
// requests, without requiring, client certificates: the proxy verifies them itself.
// Front ends must pass TLS through.
func (p *Proxy) Serve(ctx context.Context, l net.Listener, certPEM, keyPEM []byte) error {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	return p.ServeWithCertificate(ctx, l, func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil })
}

// ServeWithCertificate is Serve with the serving certificate chosen per handshake by
// getCertificate, so that the caller can rotate it without restarting.
func (p *Proxy) ServeWithCertificate(ctx context.Context, l net.Listener, getCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)) error {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	// Request contexts outlive ctx by the grace period, so that shutdown is graceful,
	// and are then cancelled, which also ends hijacked (upgraded) connections.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	srv := &http.Server{
		Handler: p,
		TLSConfig: &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: getCertificate,
			ClientAuth:     tls.RequestClientCert,
		},
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       5 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(l, "", "") }()
	select {
	case err := <-errc:
		return fmt.Errorf("impersonation proxy: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(base, shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
	}
	cancelBase()
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("impersonation proxy: %w", err)
	}
	return nil
}
