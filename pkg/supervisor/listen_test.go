// SPDX-License-Identifier: Apache-2.0

package supervisor

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/selkie-dev/selkie/pkg/supervisor/federationdomain"
	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
)

func TestListenHTTPOnlyOnLoopbackOrUnixSocket(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "localhost:0", "nonsense"} {
		if l, err := listenHTTP(context.Background(), addr); err == nil {
			l.Close()
			t.Errorf("plain HTTP on %q was allowed", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0", "unix:" + filepath.Join(t.TempDir(), "s.sock")} {
		l, err := listenHTTP(context.Background(), addr)
		if err != nil {
			if strings.Contains(addr, "::1") && strings.Contains(err.Error(), "assign") {
				continue // no IPv6 loopback on this machine
			}
			t.Errorf("%q: %v", addr, err)
			continue
		}
		l.Close()
	}
}

func TestLifetimeBounds(t *testing.T) {
	ok := oidcprovider.DefaultLifetimes()
	if err := validateLifetimes(ok); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	for name, change := range map[string]func(*oidcprovider.Lifetimes){
		"access token 30s":   func(l *oidcprovider.Lifetimes) { l.AccessToken = 30 * time.Second },
		"ID token 1h":        func(l *oidcprovider.Lifetimes) { l.IDToken = time.Hour },
		"exchange token 11m": func(l *oidcprovider.Lifetimes) { l.ExchangeIDToken = 11 * time.Minute },
		"session 8 days":     func(l *oidcprovider.Lifetimes) { l.Session = 8 * 24 * time.Hour },
		"session 30 minutes": func(l *oidcprovider.Lifetimes) { l.Session = 30 * time.Minute },
	} {
		l := ok
		change(&l)
		if err := validateLifetimes(l); err == nil {
			t.Errorf("%s was accepted", name)
		}
	}
}

// TestHealthMuxReadinessAndLiveness checks /healthz follows the router's readiness
// while /livez always answers 200, so a replica waiting for an identity provider is kept
// out of the Service but not restarted.
func TestHealthMuxReadinessAndLiveness(t *testing.T) {
	router := &federationdomain.Router{}
	mux := healthMux(router)
	status := func(path string) int {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	for path, want := range map[string]int{"/healthz": 503, "/livez": 200, "/elsewhere": 503} {
		if got := status(path); got != want {
			t.Errorf("starting: GET %s = %d, want %d", path, got, want)
		}
	}
	router.MarkReady()
	for path, want := range map[string]int{"/healthz": 200, "/livez": 200, "/elsewhere": 404} {
		if got := status(path); got != want {
			t.Errorf("ready: GET %s = %d, want %d", path, got, want)
		}
	}
}

// TestCacheLeavesSessionsOut checks the controllers' cache takes every Secret of the
// namespace except sessions, which the session store reads from the API server.
func TestCacheLeavesSessionsOut(t *testing.T) {
	opts := cacheOptions("selkie-supervisor")
	if _, ok := opts.DefaultNamespaces["selkie-supervisor"]; !ok || len(opts.DefaultNamespaces) != 1 {
		t.Errorf("cache namespaces: %v", opts.DefaultNamespaces)
	}
	var sel fields.Selector
	for obj, by := range opts.ByObject {
		if _, ok := obj.(*corev1.Secret); ok {
			sel = by.Field
		}
	}
	if sel == nil {
		t.Fatal("no field selector for Secrets")
	}
	for typ, want := range map[string]bool{
		string(sessionstore.SessionSecretType):      false,
		string(sessionstore.KeyringSecretType):      true,
		"kubernetes.io/tls":                         true,
		"Opaque":                                    true,
		"secrets.selkie.dev/federation-domain-jwks": true,
	} {
		if got := sel.Matches(fields.Set{"type": typ}); got != want {
			t.Errorf("Secret of type %s cached: %v, want %v", typ, got, want)
		}
	}
}

// TestCertificateWaitsForTheRoutesWhileStarting: a handshake that arrives before the
// first reconcile set the routes waits for their certificate instead of getting the
// bootstrap one; after the startup window nothing waits.
func TestCertificateWaitsForTheRoutesWhileStarting(t *testing.T) {
	bootstrap, routed := &tls.Certificate{}, &tls.Certificate{}
	router := &federationdomain.Router{}
	get := certificateFor(router, bootstrap, time.Now().Add(time.Minute))
	go func() {
		time.Sleep(200 * time.Millisecond)
		router.Set(nil, map[string]*tls.Certificate{"": routed})
	}()
	if c, err := get(&tls.ClientHelloInfo{}); err != nil || c != routed {
		t.Fatalf("while starting: %p, %v; want the routes' certificate", c, err)
	}

	late := certificateFor(&federationdomain.Router{}, bootstrap, time.Now().Add(-time.Second))
	if c, err := late(&tls.ClientHelloInfo{}); err != nil || c != bootstrap {
		t.Fatalf("after the startup window: %p, %v; want the bootstrap certificate", c, err)
	}
}
