// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"testing"
	"time"
)

// BenchmarkProxyOverhead measures what the proxy adds to a GET against a fake API server
// that answers at once. It reports the median latency directly, through a bare
// httputil.ReverseProxy (the cost of the extra TLS and HTTP/2 hop alone) and through the
// proxy (authentication, a cached SubjectAccessReview, header rewriting), with logging at
// info as in production. The real-cluster comparison is BenchmarkProxyGetList in
// test/integration.
func BenchmarkProxyOverhead(b *testing.B) {
	f := newFixture(b, func(a *fakeAPI) { a.authorize = allowAll }, func(c *Config) { c.Log = nil })
	upstream, err := url.Parse(f.api.srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	bare := httptest.NewUnstartedServer(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			pr.Out.Header.Set("Authorization", "Bearer "+proxyToken) // as the proxy authenticates upstream
		},
		Transport: f.proxy.transports.http2,
	})
	bare.EnableHTTP2 = true
	bare.StartTLS()
	b.Cleanup(bare.Close)
	targets := []struct {
		name   string
		client *http.Client
		base   string
	}{
		// The fake API server refuses anonymous requests, as hardened clusters do: the
		// direct client presents a bearer token, as the proxy's transport does.
		{"direct", &http.Client{Transport: bearer{f.api.srv.Client().Transport, "direct-client"}}, f.api.srv.URL},
		{"bare-hop", bare.Client(), bare.URL},
		{"proxy", f.client(b, issue(b, f.signer, "alice", "devs")), f.url},
	}
	get := func(c *http.Client, base string) time.Duration {
		start := time.Now()
		resp, err := c.Get(base + "/api/v1/namespaces/default/configmaps/x")
		if err != nil {
			b.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: status %d", base, resp.StatusCode)
		}
		return time.Since(start)
	}
	samples := make([][]time.Duration, len(targets))
	for _, t := range targets { // warm connections and caches
		get(t.client, t.base)
	}
	for b.Loop() {
		for i, t := range targets {
			samples[i] = append(samples[i], get(t.client, t.base))
		}
	}
	for i, t := range targets {
		b.ReportMetric(float64(median(samples[i]).Microseconds()), t.name+"-µs")
	}
	b.ReportMetric(float64(median(samples[2]))/float64(median(samples[0])), "proxy/direct")
}

// bearer adds a bearer token to every request.
type bearer struct {
	rt    http.RoundTripper
	token string
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.rt.RoundTrip(r)
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
