// SPDX-License-Identifier: Apache-2.0

package servermetrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// ValidateProfilingAddress checks --profiling-address: empty (off) or a loopback
// host:port. Profiles show memory contents and cost CPU, so they are never served beyond
// the pod: reach them with kubectl port-forward.
func ValidateProfilingAddress(address string) error {
	if address == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("--profiling-address %q: use a loopback host:port, such as 127.0.0.1:6060", address)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--profiling-address %q: profiles are served on loopback addresses only (127.0.0.1, ::1 or localhost)", address)
	}
	return nil
}

// ServeProfiles serves net/http/pprof's handlers under /debug/pprof/ on address until ctx
// ends. It returns the address it listens on once it does, or the reason it cannot.
func ServeProfiles(ctx context.Context, address string, log *slog.Logger) (net.Addr, error) {
	if err := ValidateProfilingAddress(address); err != nil {
		return nil, err
	}
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", address)
	if err != nil {
		return nil, fmt.Errorf("--profiling-address: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("profiling server stopped", "error", err)
		}
	}()
	log.Info("serving profiles", "address", l.Addr().String())
	return l.Addr(), nil
}

// Start is what a server does about observability before anything else: it checks
// metricsAddress (served later by the controller manager, see ServerOptions), adds the
// server's metrics to Registry with register, and serves profiles on profilingAddress
// when it is set.
func Start(ctx context.Context, metricsAddress, profilingAddress string, register func() error, log *slog.Logger) error {
	if err := ValidateAddress(metricsAddress); err != nil {
		return err
	}
	if err := register(); err != nil {
		return err
	}
	if profilingAddress == "" {
		return nil
	}
	_, err := ServeProfiles(ctx, profilingAddress, log.With("component", "profiling"))
	return err
}
