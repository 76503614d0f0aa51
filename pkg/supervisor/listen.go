// SPDX-License-Identifier: Apache-2.0

package supervisor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"

	"github.com/selkie-dev/selkie/pkg/certauthority"
	"github.com/selkie-dev/selkie/pkg/supervisor/federationdomain"
	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
)

func newKubeClient(cfg *restclient.Config) (kubernetes.Interface, error) {
	return kubernetes.NewForConfig(cfg)
}

// healthMux answers what no FederationDomain serves: GET /healthz (readiness: 503 until
// every FederationDomain was reconciled with the identity providers that were already
// Ready, so a starting replica gets no logins it would fail), GET /livez (liveness: 200
// whenever the process serves, so a replica waiting on an unreachable identity provider
// is not restarted for it), and 503 or 404 for anything else.
func healthMux(router *federationdomain.Router) *http.ServeMux {
	health := http.NewServeMux()
	health.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !router.Ready() { // not ready to serve logins: keep traffic on the other replicas
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	health.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	})
	health.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if !router.Ready() {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "the supervisor is starting", http.StatusServiceUnavailable)
			return
		}
		http.NotFound(w, r)
	})
	return health
}

// startListeners serves the router over HTTPS (and optionally plain HTTP on loopback
// or a unix socket) until ctx ends; server errors go to errc.
func startListeners(ctx context.Context, f *serveFlags, router *federationdomain.Router, log *slog.Logger, errc chan<- error) error {
	router.Default = healthMux(router)
	defaultCert, err := loadDefaultCert(f)
	if err != nil {
		return err
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12,
		GetCertificate: certificateFor(router, defaultCert, time.Now().Add(startupCertWait))}
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", f.httpsAddress)
	if err != nil {
		return fmt.Errorf("--https-address: %w", err)
	}
	serve(ctx, oidcprovider.WithAuditID(router), tlsConfig, tls.NewListener(l, tlsConfig), log, errc)
	if f.httpAddress != "" {
		hl, err := listenHTTP(ctx, f.httpAddress)
		if err != nil {
			return err
		}
		serve(ctx, oidcprovider.WithAuditID(router), nil, hl, log, errc)
	}
	return nil
}

// startupCertWait is how long after the start a handshake may wait for the routes'
// certificates; handshakeCertWait bounds one handshake's wait.
const (
	startupCertWait   = 30 * time.Second
	handshakeCertWait = 5 * time.Second
)

// certificateFor serves the router's certificate for a handshake, else defaultCert. A
// restarted replica listens, and still receives connections meant for its pod address
// (kube-proxy forgets an endpoint a moment after it went away), a moment before its
// first reconcile has set the routes: until startupEnd, a handshake waits for them
// (at most handshakeCertWait) rather than get the bootstrap certificate, which clients
// reject. After that, or once the routes are set, nothing waits.
func certificateFor(router *federationdomain.Router, defaultCert *tls.Certificate, startupEnd time.Time) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if c := router.Certificate(hello); c != nil {
			return c, nil
		}
		if wait := time.Until(startupEnd); wait > 0 {
			ctx := context.Background()
			if hello.Context() != nil {
				ctx = hello.Context()
			}
			ctx, cancel := context.WithTimeout(ctx, min(wait, handshakeCertWait))
			router.AwaitRoutes(ctx)
			cancel()
			if c := router.Certificate(hello); c != nil {
				return c, nil
			}
		}
		return defaultCert, nil
	}
}

func serve(ctx context.Context, handler http.Handler, tlsConfig *tls.Config, l net.Listener, log *slog.Logger, errc chan<- error) {
	// Nothing the supervisor serves streams: every request is bounded, so a client that
	// sends its headers or body slowly, or reads the answer slowly, holds a connection
	// for seconds, not forever. An upstream login (an LDAP bind, an OIDC code exchange)
	// fits well within the write timeout.
	srv := &http.Server{Handler: handler, TLSConfig: tlsConfig,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 2 * time.Minute,
		IdleTimeout: 5 * time.Minute, MaxHeaderBytes: 256 << 10}
	srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelDebug)
	go func() {
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	context.AfterFunc(ctx, func() {
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	})
}

// listenHTTP accepts only a loopback address or a unix socket: plain HTTP never leaves
// the machine (a sidecar or an ingress on the same host may use it).
func listenHTTP(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		_ = os.Remove(path)
		return lc.Listen(ctx, "unix", path)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--http-address: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("--http-address %q must be a loopback address or unix:<path>", addr)
	}
	return lc.Listen(ctx, "tcp", addr)
}

// loadDefaultCert reads --tls-cert-file/--tls-key-file or makes a self-signed bootstrap
// certificate (enough for /healthz and for clients that pin it).
func loadDefaultCert(f *serveFlags) (*tls.Certificate, error) {
	if f.tlsCertFile != "" || f.tlsKeyFile != "" {
		c, err := tls.LoadX509KeyPair(f.tlsCertFile, f.tlsKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert-file/--tls-key-file: %w", err)
		}
		return &c, nil
	}
	ca, err := certauthority.New("selkie-supervisor-bootstrap", 365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	kp, err := ca.IssueServingCert([]string{"localhost", "127.0.0.1", "::1"}, 365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	c, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		return nil, err
	}
	return &c, nil
}
