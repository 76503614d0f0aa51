// SPDX-License-Identifier: Apache-2.0

// Package shutdown gives the servers a context that ends some time after SIGTERM, so a
// pod being deleted keeps serving until load balancers, kube-proxy and the API server's
// aggregator have stopped sending it new connections.
//
// When Kubernetes deletes a pod it sends SIGTERM and, at about the same moment, removes
// the pod from its Services' endpoints. That removal reaches every node's kube-proxy
// and every API server's aggregator a little later; a server that closed its listeners
// on SIGTERM refuses the connections that still arrive in between, and clients see
// "connection refused" in the middle of a rolling update. Serving on for a few seconds
// closes that window; the servers then shut down gracefully, finishing requests in
// flight.
package shutdown

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// OnSignal returns a context that ends delay after the first SIGTERM or interrupt, or at
// once on a second one or when parent ends. stop releases the signal handler.
func OnSignal(parent context.Context, delay time.Duration, log *slog.Logger) (ctx context.Context, stop func()) {
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(parent)
	go func() {
		defer cancel()
		wait(ctx, signals, delay, log, time.After)
	}()
	return ctx, func() {
		signal.Stop(signals)
		cancel()
	}
}

// wait returns delay after the first signal, at once on a second signal, or when ctx
// ends.
func wait(ctx context.Context, signals <-chan os.Signal, delay time.Duration, log *slog.Logger, after func(time.Duration) <-chan time.Time) {
	var sig os.Signal
	select {
	case <-ctx.Done():
		return
	case sig = <-signals:
	}
	if delay <= 0 {
		log.InfoContext(ctx, "shutting down", "signal", sig.String())
		return
	}
	log.InfoContext(ctx, "shutting down after the shutdown delay; still serving", "signal", sig.String(), "delay", delay.String())
	select {
	case <-ctx.Done():
	case sig = <-signals:
		log.InfoContext(ctx, "shutting down now", "signal", sig.String())
	case <-after(delay):
		log.InfoContext(ctx, "shutdown delay over; shutting down")
	}
}
