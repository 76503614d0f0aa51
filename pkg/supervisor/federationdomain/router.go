// SPDX-License-Identifier: Apache-2.0

package federationdomain

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
)

// Router dispatches requests to the FederationDomain whose issuer host matches the
// request's host (case-insensitively) and whose issuer path is the longest prefix of the
// request path, and chooses serving certificates by SNI. It is safe for concurrent use;
// Set replaces everything at once.
type Router struct {
	current atomic.Pointer[snapshot]
	ready   atomic.Bool
	// Default answers requests no issuer matches (the server's own endpoints).
	Default http.Handler
}

type snapshot struct {
	// byHost maps a lower-case host[:port] to its providers, longest path first.
	byHost map[string][]*oidcprovider.Provider
	// certs maps a lower-case hostname to its serving certificate.
	certs map[string]*tls.Certificate
}

// Set installs the providers to serve and the SNI certificates by hostname; the key ""
// holds the certificate for clients whose server name matches none.
func (rt *Router) Set(providers []*oidcprovider.Provider, certs map[string]*tls.Certificate) {
	s := &snapshot{byHost: map[string][]*oidcprovider.Provider{}, certs: map[string]*tls.Certificate{}}
	for _, p := range providers {
		host := normalizeHost(hostOf(p.Issuer()))
		s.byHost[host] = append(s.byHost[host], p)
	}
	for host, list := range s.byHost {
		sortByPathLength(list)
		s.byHost[host] = list
	}
	for host, c := range certs {
		s.certs[strings.ToLower(host)] = c
	}
	rt.current.Store(s)
}

// MarkReady records that the routes are complete: every FederationDomain was reconciled
// with every identity provider that was ready before this process started. Until then
// the router answers 503, since a missing route or IdP would fail logins and refreshes
// that another replica (or this one, a moment later) serves.
func (rt *Router) MarkReady() { rt.ready.Store(true) }

// Ready reports whether MarkReady was called.
func (rt *Router) Ready() bool { return rt.ready.Load() }

// ServeHTTP routes r to its FederationDomain, or to Default.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !rt.Ready() && rt.Default == nil {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "the supervisor is starting", http.StatusServiceUnavailable)
		return
	}
	if s := rt.current.Load(); s != nil && rt.Ready() {
		for _, p := range s.byHost[normalizeHost(r.Host)] {
			prefix := p.PathPrefix()
			if rest, ok := strings.CutPrefix(r.URL.Path, prefix); ok && strings.HasPrefix(rest, "/") {
				p.ServeHTTP(w, r)
				return
			}
		}
	}
	if rt.Default != nil {
		rt.Default.ServeHTTP(w, r)
		return
	}
	http.NotFound(w, r)
}

// Certificate returns the SNI certificate for hello's server name, else the default
// certificate (key "" of Set's certs: clients of an IP-address issuer send no server
// name), else nil.
func (rt *Router) Certificate(hello *tls.ClientHelloInfo) *tls.Certificate {
	s := rt.current.Load()
	if s == nil {
		return nil
	}
	if c := s.certs[strings.ToLower(hello.ServerName)]; c != nil && hello.ServerName != "" {
		return c
	}
	return s.certs[""]
}

// AwaitRoutes waits until the routes (and their certificates) were set once, or ctx ends.
func (rt *Router) AwaitRoutes(ctx context.Context) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for rt.current.Load() == nil {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Providers returns the providers being served.
func (rt *Router) Providers() []*oidcprovider.Provider {
	var out []*oidcprovider.Provider
	if s := rt.current.Load(); s != nil {
		for _, list := range s.byHost {
			out = append(out, list...)
		}
	}
	return out
}

func hostOf(issuer string) string {
	rest, _ := strings.CutPrefix(issuer, "https://")
	host, _, _ := strings.Cut(rest, "/")
	return host
}

// normalizeHost lower-cases host and drops the default HTTPS port.
func normalizeHost(host string) string {
	host = strings.ToLower(host)
	if h, port, err := net.SplitHostPort(host); err == nil && port == "443" {
		if strings.Contains(h, ":") {
			return "[" + h + "]"
		}
		return h
	}
	return host
}

func sortByPathLength(list []*oidcprovider.Provider) {
	for i := 1; i < len(list); i++ {
		for j := i; j > 0 && len(list[j].PathPrefix()) > len(list[j-1].PathPrefix()); j-- {
			list[j], list[j-1] = list[j-1], list[j]
		}
	}
}
