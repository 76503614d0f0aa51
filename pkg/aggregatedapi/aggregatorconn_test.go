// SPDX-License-Identifier: Apache-2.0

package aggregatedapi

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/request/headerrequest"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"

	"github.com/selkie-dev/selkie/pkg/certauthority"
)

// TestKeepAggregatorConnections checks that the aggregator's connection survives an
// anonymous request (the inner handler asks to close it, as k8s.io/apiserver does for
// anonymous users), while any other client's connection is still closed.
func TestKeepAggregatorConnections(t *testing.T) {
	t.Parallel()
	frontProxyCA, otherCA := testCAs(t)
	caContent, err := dynamiccertificates.NewStaticCAContent("front-proxy", frontProxyCA.CertPEM())
	if err != nil {
		t.Fatal(err)
	}
	rh := &authenticatorfactory.RequestHeaderConfig{CAContentProvider: caContent, AllowedClientNames: headerrequest.StaticStringSlice{"front-proxy-client"}}
	inner := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Connection", "close") // what the anonymous-user mitigation does
		_, _ = io.WriteString(w, "ok")
	})
	srv := httptest.NewUnstartedServer(keepAggregatorConnections(inner, rh))
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	clientCert := func(ca *certauthority.CA, cn string) []tls.Certificate {
		kp, err := ca.IssueClientCert(cn, nil, certauthority.DefaultTTL)
		if err != nil {
			t.Fatal(err)
		}
		c, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return []tls.Certificate{c}
	}
	tests := []struct {
		name      string
		certs     []tls.Certificate
		wantReuse bool
	}{
		{name: "aggregator", certs: clientCert(frontProxyCA, "front-proxy-client"), wantReuse: true},
		{name: "no client certificate", wantReuse: false},
		{name: "front-proxy CA but a name not allowed", certs: clientCert(frontProxyCA, "someone-else"), wantReuse: false},
		{name: "allowed name from another CA", certs: clientCert(otherCA, "front-proxy-client"), wantReuse: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			roots := x509.NewCertPool()
			roots.AddCert(srv.Certificate())
			client := &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: true,
				TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: tt.certs, MinVersion: tls.VersionTLS12}}}
			// get makes one request and reports whether it reused a connection.
			get := func() bool {
				reused := false
				trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused }}
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, srv.URL, nil)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.ProtoMajor != 2 {
					t.Fatalf("request used HTTP/%d, want HTTP/2", resp.ProtoMajor)
				}
				return reused
			}
			get()
			if tt.wantReuse {
				for i := range 3 {
					if !get() {
						t.Fatalf("request %d opened a new connection; the aggregator's should be kept", i+2)
					}
				}
				return
			}
			// Each answer asks to close the connection (a GOAWAY, which may reach the client
			// just after the answer): a later request must get a new one.
			for deadline := time.Now().Add(5 * time.Second); get(); {
				if time.Now().After(deadline) {
					t.Fatal("requests kept reusing a connection the server asked to close")
				}
			}
		})
	}
}

// TestClientAddress: X-Forwarded-For counts only when the aggregator sent it.
func TestClientAddress(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.RemoteAddr = "10.0.0.5:443"
	r.Header.Add("X-Forwarded-For", "203.0.113.66")
	r.Header.Add("X-Forwarded-For", "198.51.100.7, 192.0.2.9")
	if got := clientAddress(r, false); got != "10.0.0.5" {
		t.Errorf("a direct client: %q, want its peer address", got)
	}
	if got := clientAddress(r, true); got != "192.0.2.9" {
		t.Errorf("through the aggregator: %q, want the address it appended", got)
	}
	r.Header.Set("X-Forwarded-For", "garbage")
	if got := clientAddress(r, true); got != "10.0.0.5" {
		t.Errorf("an unreadable header: %q, want the peer", got)
	}
}

// testCAs returns a front-proxy CA and another CA.
func testCAs(tb testing.TB) (frontProxyCA, otherCA *certauthority.CA) {
	tb.Helper()
	frontProxyCA, err := certauthority.New("front-proxy-ca", time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	if otherCA, err = certauthority.New("other-ca", time.Hour); err != nil {
		tb.Fatal(err)
	}
	return frontProxyCA, otherCA
}

// peerRequest is a request whose TLS client presented a certificate of ca for cn.
func peerRequest(tb testing.TB, ca *certauthority.CA, cn string) *http.Request {
	tb.Helper()
	kp, err := ca.IssueClientCert(cn, nil, certauthority.DefaultTTL)
	if err != nil {
		tb.Fatal(err)
	}
	block, _ := pem.Decode(kp.CertPEM)
	if block == nil {
		tb.Fatal("the client certificate is not PEM")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}
	return r
}

// swappableCA is a CAContentProvider whose bundle a test replaces.
type swappableCA struct{ bundle atomic.Pointer[[]byte] }

func (c *swappableCA) Name() string                   { return "swappable" }
func (c *swappableCA) CurrentCABundleContent() []byte { return *c.bundle.Load() }
func (c *swappableCA) VerifyOptions() (x509.VerifyOptions, bool) {
	return x509.VerifyOptions{}, false
}
func (c *swappableCA) AddListener(dynamiccertificates.Listener) {}

// TestFrontProxyVerifierRemembersOnlyWhatStillHolds: the verifier remembers the last
// verified chain, but never for another chain, another CA bundle, or past the leaf's
// expiry.
func TestFrontProxyVerifierRemembersOnlyWhatStillHolds(t *testing.T) {
	t.Parallel()
	frontProxyCA, otherCA := testCAs(t)
	ca := &swappableCA{}
	bundle := frontProxyCA.CertPEM()
	ca.bundle.Store(&bundle)
	now := time.Now()
	v := &frontProxyVerifier{rh: &authenticatorfactory.RequestHeaderConfig{CAContentProvider: ca,
		AllowedClientNames: headerrequest.StaticStringSlice{"front-proxy-client"}}, now: func() time.Time { return now }}
	aggregator := peerRequest(t, frontProxyCA, "front-proxy-client")
	for i := range 2 { // verified, then remembered
		if !v.verified(aggregator) {
			t.Fatalf("the aggregator's certificate is not verified (request %d)", i+1)
		}
	}
	if v.verified(peerRequest(t, otherCA, "front-proxy-client")) {
		t.Error("a certificate of another CA passed right after the aggregator's")
	}
	if v.verified(peerRequest(t, frontProxyCA, "someone-else")) {
		t.Error("a name not allowed passed")
	}
	if !v.verified(aggregator) {
		t.Error("the aggregator's certificate failed after other clients'")
	}
	// A new CA bundle: the remembered chain counts no more.
	other := otherCA.CertPEM()
	ca.bundle.Store(&other)
	if v.verified(aggregator) {
		t.Error("the aggregator's certificate passed after its CA left the bundle")
	}
	ca.bundle.Store(&bundle)
	if !v.verified(aggregator) {
		t.Error("the aggregator's certificate failed once its CA was back")
	}
	// Past the leaf's expiry (DefaultTTL), nothing is remembered.
	now = now.Add(certauthority.DefaultTTL + time.Minute)
	if v.verified(aggregator) {
		t.Error("an expired certificate passed")
	}
}

// BenchmarkFrontProxyVerifier: the aggregator's chain verified once and remembered,
// against a verification every time (two chains taking turns).
func BenchmarkFrontProxyVerifier(b *testing.B) {
	frontProxyCA, _ := testCAs(b)
	caContent, err := dynamiccertificates.NewStaticCAContent("front-proxy", frontProxyCA.CertPEM())
	if err != nil {
		b.Fatal(err)
	}
	one, two := peerRequest(b, frontProxyCA, "front-proxy-client"), peerRequest(b, frontProxyCA, "front-proxy-client")
	for name, reqs := range map[string][]*http.Request{"remembered": {one, one}, "verified-each-time": {one, two}} {
		b.Run(name, func(b *testing.B) {
			v := &frontProxyVerifier{rh: &authenticatorfactory.RequestHeaderConfig{CAContentProvider: caContent,
				AllowedClientNames: headerrequest.StaticStringSlice{"front-proxy-client"}}}
			i := 0
			for b.Loop() {
				if !v.verified(reqs[i%2]) {
					b.Fatal("not verified")
				}
				i++
			}
		})
	}
}
