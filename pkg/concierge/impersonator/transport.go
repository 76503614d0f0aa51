// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/httpstream" //nolint:staticcheck // SA1019: its replacement, k8s.io/streaming, is a module of its own that the rest of client-go does not use yet; the types are the same.
	"k8s.io/client-go/rest"
)

// upstreamTransports reach the API server without any credentials of their own: the
// handler adds them per request. Upgrades (SPDY, WebSocket) need HTTP/1.1, because
// kube-apiserver does not upgrade HTTP/2 streams; everything else shares HTTP/2
// connections.
type upstreamTransports struct {
	http1, http2 *http.Transport
}

func newUpstreamTransports(cfg *rest.Config) (upstreamTransports, error) {
	// AnonymousClientConfig keeps how to verify the server and drops every credential.
	tlsConfig, err := rest.TLSConfigFor(rest.AnonymousClientConfig(cfg))
	if err != nil {
		return upstreamTransports{}, fmt.Errorf("upstream TLS configuration: %w", err)
	}
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	var h1, h2 http.Protocols
	h1.SetHTTP1(true)
	h2.SetHTTP2(true)
	return upstreamTransports{
		http1: newTransport(tlsConfig, &h1, "http/1.1"),
		http2: newTransport(tlsConfig, &h2, "h2"),
	}, nil
}

func newTransport(base *tls.Config, protocols *http.Protocols, alpn string) *http.Transport {
	tlsConfig := base.Clone()
	tlsConfig.NextProtos = []string{alpn}
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:               nil, // the API server is reached directly, never through HTTP(S)_PROXY
		DialContext:         dialer.DialContext,
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: 10 * time.Second,
		Protocols:           protocols,
		MaxIdleConnsPerHost: 100,
		IdleConnTimeout:     90 * time.Second,
		// Responses are streamed; never let the transport decompress them behind the
		// client's back.
		DisableCompression: true,
	}
}

// closeIdle closes the upstream connections no request is using.
func (t upstreamTransports) closeIdle() {
	t.http1.CloseIdleConnections()
	t.http2.CloseIdleConnections()
}

// forRequest picks HTTP/1.1 for upgrades and HTTP/2 otherwise.
func (t upstreamTransports) forRequest(r *http.Request) http.RoundTripper {
	if isUpgrade(r) {
		return t.http1
	}
	return t.http2
}

// isUpgrade reports whether r asks to switch protocols (Connection: Upgrade).
func isUpgrade(r *http.Request) bool { return httpstream.IsUpgradeRequest(r) }

// bufferPool recycles the buffers httputil.ReverseProxy copies response bodies through.
type bufferPool struct{ pool sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{pool: sync.Pool{New: func() any { return new([32 * 1024]byte) }}}
}

// Get returns a 32 KiB buffer.
func (b *bufferPool) Get() []byte { return b.pool.Get().(*[32 * 1024]byte)[:] }

// Put recycles a buffer from Get.
func (b *bufferPool) Put(buf []byte) {
	if cap(buf) == 32*1024 {
		b.pool.Put((*[32 * 1024]byte)(buf[:32*1024]))
	}
}
