// SPDX-License-Identifier: Apache-2.0

package aggregatedapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/endpoints/responsewriter"
)

// keepAggregatorConnections undoes, for the aggregation layer's own connections only,
// k8s.io/apiserver's HTTP/2 mitigation for anonymous users (UnauthenticatedHTTP2DOSMitigation),
// which answers every anonymous request with "Connection: close" and so a GOAWAY.
//
// TokenCredentialRequests are anonymous by design, but they reach the concierge through
// kube-apiserver's aggregator on one shared, multiplexed connection. Tearing that
// connection down after each anonymous request makes the aggregator fail other requests
// in flight on it with 503 ("cannot retry ... after Request.Body was written"): ~3 % of
// logins under load. The mitigation is aimed at untrusted clients holding connections;
// the aggregator, identified by a front-proxy client certificate, is not one. Direct
// anonymous clients keep the mitigation.
//
// It also records the client's address for the handlers (ClientAddressFrom): for a
// request from the aggregator, the address kube-apiserver appended to X-Forwarded-For;
// for anyone else, the connection's peer, whatever headers they sent.
func keepAggregatorConnections(next http.Handler, rh *authenticatorfactory.RequestHeaderConfig) http.Handler {
	var v *frontProxyVerifier
	if rh != nil && rh.CAContentProvider != nil {
		v = &frontProxyVerifier{rh: rh}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The chain check costs a signature verification: only where its answer matters
		// (HTTP/2 keep-alive, or an address claim to believe).
		fromAggregator := v != nil && (r.ProtoMajor == 2 || r.Header.Get("X-Forwarded-For") != "") && v.verified(r)
		if fromAggregator && r.ProtoMajor == 2 {
			w = responsewriter.WrapForHTTP1Or2(&keepAliveWriter{ResponseWriter: w})
		}
		next.ServeHTTP(w, r.WithContext(WithClientAddress(r.Context(), clientAddress(r, fromAggregator))))
	})
}

type clientAddressKey struct{}

// WithClientAddress returns ctx carrying the request's client address.
func WithClientAddress(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddressKey{}, addr)
}

// ClientAddressFrom is the address of the client whose request ctx belongs to, "" if
// unknown.
func ClientAddressFrom(ctx context.Context) string {
	addr, _ := ctx.Value(clientAddressKey{}).(string)
	return addr
}

// clientAddress is the connection's peer, or for the aggregator the last address of
// X-Forwarded-For (the one kube-apiserver added for its client).
func clientAddress(r *http.Request, fromAggregator bool) string {
	if fromAggregator {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		if a, err := netip.ParseAddr(strings.TrimSpace(hops[len(hops)-1])); err == nil {
			return a.Unmap().String()
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// frontProxyVerifier checks a request's client certificate against the current
// requestheader CA and allowed names, as the requestheader authenticator does.
//
// It remembers the last chain it verified (the aggregator's, on its long-lived
// connections): every aggregated request would otherwise pay a signature verification
// here, about a tenth of the concierge's CPU per TokenCredentialRequest. The memory holds
// for at most verifiedFor, never past the leaf's expiry, and only while the CA bundle is
// the one it was verified against.
type frontProxyVerifier struct {
	rh *authenticatorfactory.RequestHeaderConfig
	// now is time.Now unless a test sets it.
	now func() time.Time

	mu     sync.Mutex
	bundle []byte
	pool   *x509.CertPool
	// The last verified chain: the SHA-256 of its certificates, the pool it verified
	// against, and until when it counts as verified.
	lastChain [sha256.Size]byte
	lastPool  *x509.CertPool
	lastUntil time.Time
}

// verifiedFor bounds how long a verified chain is remembered.
const verifiedFor = time.Minute

func (v *frontProxyVerifier) verified(r *http.Request) bool {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return false
	}
	pool := v.currentPool()
	if pool == nil {
		return false
	}
	leaf := r.TLS.PeerCertificates[0]
	names := v.rh.AllowedClientNames.Value()
	if len(names) > 0 && !slices.Contains(names, leaf.Subject.CommonName) {
		return false
	}
	chain := chainHash(r.TLS.PeerCertificates)
	now := v.clock()
	v.mu.Lock()
	remembered := v.lastPool == pool && v.lastChain == chain && now.Before(v.lastUntil)
	v.mu.Unlock()
	if remembered {
		return true
	}
	inter := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return false
	}
	until := now.Add(verifiedFor)
	if leaf.NotAfter.Before(until) {
		until = leaf.NotAfter
	}
	v.mu.Lock()
	v.lastChain, v.lastPool, v.lastUntil = chain, pool, until
	v.mu.Unlock()
	return true
}

func (v *frontProxyVerifier) clock() time.Time {
	if v.now != nil {
		return v.now()
	}
	return time.Now()
}

// chainHash identifies the certificates a client presented, in order.
func chainHash(certs []*x509.Certificate) [sha256.Size]byte {
	h := sha256.New()
	for _, c := range certs {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(c.Raw))) //nolint:gosec // G115: a certificate is far below 4 GiB.
		h.Write(n[:])
		h.Write(c.Raw)
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// currentPool returns a pool of the current requestheader CA bundle, rebuilt only
// when the bundle changes.
func (v *frontProxyVerifier) currentPool() *x509.CertPool {
	bundle := v.rh.CAContentProvider.CurrentCABundleContent()
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.pool == nil || !bytes.Equal(bundle, v.bundle) {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(bundle) {
			return nil
		}
		v.bundle, v.pool = bytes.Clone(bundle), pool
	}
	return v.pool
}

// keepAliveWriter drops a "Connection: close" header before the response starts.
type keepAliveWriter struct {
	http.ResponseWriter
	started bool
}

var _ responsewriter.UserProvidedDecorator = (*keepAliveWriter)(nil)

func (k *keepAliveWriter) Unwrap() http.ResponseWriter { return k.ResponseWriter }

func (k *keepAliveWriter) WriteHeader(code int) {
	if !k.started {
		k.started = true
		k.Header().Del("Connection")
	}
	k.ResponseWriter.WriteHeader(code)
}

func (k *keepAliveWriter) Write(b []byte) (int, error) {
	if !k.started {
		k.WriteHeader(http.StatusOK)
	}
	return k.ResponseWriter.Write(b)
}
