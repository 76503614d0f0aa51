// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	asn1util "k8s.io/apimachinery/pkg/apis/asn1"
	"k8s.io/client-go/kubernetes"

	"github.com/selkie-dev/selkie/pkg/certauthority"
)

// proxyToken is the ServiceAccount token the proxy under test uses upstream.
const proxyToken = "proxy-sa-token"

// fixture is a proxy served over TLS on loopback in front of a fakeAPI.
type fixture struct {
	api    *fakeAPI
	proxy  *Proxy
	url    string
	roots  *x509.CertPool
	signer *certauthority.CA
	logs   *syncBuffer
}

// newFixture starts a proxy; setup prepares the fake API server before the proxy probes
// it, and configure adjusts the proxy's Config.
func newFixture(t testing.TB, setup func(*fakeAPI), configure func(*Config)) *fixture {
	t.Helper()
	api := newFakeAPI(t)
	if setup != nil {
		api.set(setup)
	}
	signer, err := certauthority.New("impersonation-proxy-signer", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cfg := Config{
		Upstream:   api.config(),
		Kube:       kubernetes.NewForConfigOrDie(api.kubeConfig()),
		ProxyToken: func(context.Context) (string, error) { return proxyToken, nil },
		SignerCA:   signer,
		Log:        slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if configure != nil {
		configure(&cfg)
	}
	p, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f := &fixture{api: api, proxy: p, signer: signer, logs: logs}
	f.serve(t)
	return f
}

func (f *fixture) serve(t testing.TB) {
	t.Helper()
	servingCA, err := certauthority.New("serving-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := servingCA.IssueServingCert([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.proxy.Serve(ctx, l, kp.CertPEM, kp.KeyPEM) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	f.url = "https://" + l.Addr().String()
	f.roots = x509.NewCertPool()
	f.roots.AppendCertsFromPEM(servingCA.CertPEM())
}

// tlsConfig trusts the proxy and presents kp, if any.
func (f *fixture) tlsConfig(t testing.TB, kp *certauthority.KeyPair) *tls.Config {
	t.Helper()
	cfg := &tls.Config{RootCAs: f.roots, MinVersion: tls.VersionTLS12}
	if kp != nil {
		cert, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg
}

// client speaks HTTP/2 to the proxy with kp as its client certificate (nil: none).
func (f *fixture) client(t testing.TB, kp *certauthority.KeyPair) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: f.tlsConfig(t, kp), ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// do sends one request and returns the status and body.
func (f *fixture) do(t testing.TB, c *http.Client, method, path string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// forwardedOne checks what the fake API server received since it had before requests:
// nothing when want is nil, else exactly one request whose credential headers are want
// (see impersonationHeaders), which it returns.
func (f *fixture) forwardedOne(t testing.TB, before int, want http.Header) *http.Request {
	t.Helper()
	forwarded := f.api.requests()[before:]
	if want == nil {
		if len(forwarded) != 0 {
			t.Fatalf("forwarded %d requests, want none", len(forwarded))
		}
		return nil
	}
	if len(forwarded) != 1 {
		t.Fatalf("forwarded %d requests, want 1", len(forwarded))
	}
	if diff := cmp.Diff(want, impersonationHeaders(forwarded[0])); diff != "" {
		t.Errorf("forwarded headers (-want +got):\n%s", diff)
	}
	return forwarded[0]
}

// issue signs a client certificate from ca.
func issue(t testing.TB, ca *certauthority.CA, name string, groups ...string) *certauthority.KeyPair {
	t.Helper()
	kp, err := ca.IssueClientCert(name, groups, certauthority.DefaultTTL)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// issueWithUID signs a client certificate that also carries a UID attribute, which
// kube-apiserver (and so the proxy) reads as the user's UID.
func issueWithUID(t *testing.T, ca *certauthority.CA, name, uid string) *certauthority.KeyPair {
	t.Helper()
	caCertPEM, caKeyPEM, err := ca.PEM()
	if err != nil {
		t.Fatal(err)
	}
	caBlock, _ := pem.Decode(caCertPEM)
	caCert, err := x509.ParseCertificate(caBlock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	keyBlock, _ := pem.Decode(caKeyPEM)
	caKey, err := x509.ParsePKCS8PrivateKey(keyBlock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name, ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1util.X509UID(), Value: uid}}},
		NotBefore:    time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &certauthority.KeyPair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
}

// impersonationHeaders returns the credential-bearing headers of a forwarded request
// (Impersonate-*, Authorization, the client-address headers, Sec-WebSocket-Protocol), with the
// credential-id extra's value (a certificate hash) elided.
func impersonationHeaders(r *http.Request) http.Header {
	out := http.Header{}
	for k, v := range r.Header {
		switch {
		case strings.EqualFold(k, "Impersonate-Extra-Authentication.kubernetes.io%2fcredential-Id"):
			out[k] = []string{"<elided>"}
		case isImpersonationHeader(k), k == "Authorization", k == "X-Forwarded-For", k == "X-Real-Ip", k == "Forwarded", k == "Sec-Websocket-Protocol":
			out[k] = v
		}
	}
	return out
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
