// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/selkie-dev/selkie/pkg/certauthority"
)

func clientRequest(t *testing.T, ca *certauthority.CA) *http.Request {
	t.Helper()
	kp, err := ca.IssueClientCert("pinny", []string{"seals"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(kp.CertPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Request{TLS: &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}}
}

func TestIssuerRouted(t *testing.T) {
	t.Parallel()
	newCA := func(name string) *certauthority.CA {
		ca, err := certauthority.New(name, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return ca
	}
	signer, clusterCA, unknown, sameName := newCA("signer"), newCA("cluster"), newCA("unknown"), newCA("cluster")
	// Each CA's authenticator fails (as x509 verification against it would) unless the
	// certificate is its own.
	tests := []struct {
		name      string
		req       *http.Request
		bundles   [2][]byte
		wantCalls [2]int
		wantOK    bool
	}{
		{"the first CA's client", clientRequest(t, signer), [2][]byte{signer.CertPEM(), clusterCA.CertPEM()}, [2]int{1, 0}, true},
		{"the second CA's client skips the first", clientRequest(t, clusterCA), [2][]byte{signer.CertPEM(), clusterCA.CertPEM()}, [2]int{0, 1}, true},
		{"a bundle of two CAs", clientRequest(t, clusterCA), [2][]byte{signer.CertPEM(), slices.Concat(unknown.CertPEM(), clusterCA.CertPEM())}, [2]int{0, 1}, true},
		{"an unknown CA's client tries both and fails", clientRequest(t, unknown), [2][]byte{signer.CertPEM(), clusterCA.CertPEM()}, [2]int{1, 1}, false},
		{"two CAs of one name are both tried", clientRequest(t, clusterCA), [2][]byte{sameName.CertPEM(), clusterCA.CertPEM()}, [2]int{1, 1}, true},
		{"an unparsable bundle is tried like an unknown CA", clientRequest(t, clusterCA), [2][]byte{[]byte("garbage"), []byte("garbage")}, [2]int{1, 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			owners := [2]*certauthority.CA{signer, clusterCA}
			var authns [2]*countingAuthenticator
			var route issuerRouted
			for i := range 2 {
				authns[i] = &countingAuthenticator{}
				// This authenticator verifies only certificates of its own CA, and only while
				// its bundle holds that CA.
				issuer := tt.req.TLS.PeerCertificates[0].RawIssuer
				authns[i].fail = !bytes.Equal(issuer, certSubject(t, owners[i])) || !bytes.Contains(tt.bundles[i], owners[i].CertPEM())
				bundle := tt.bundles[i]
				route = append(route, &caCandidate{authn: authns[i], bundle: func() []byte { return bundle }})
			}
			resp, ok, err := route.AuthenticateRequest(tt.req)
			if ok != tt.wantOK || (err == nil) != tt.wantOK {
				t.Errorf("AuthenticateRequest = %v, %v, %v; want ok %v with an error only on failure", resp, ok, err, tt.wantOK)
			}
			if got := [2]int{authns[0].calls, authns[1].calls}; got != tt.wantCalls {
				t.Errorf("calls %v, want %v", got, tt.wantCalls)
			}
		})
	}

	// No certificate: nothing is tried, nothing fails.
	none := &countingAuthenticator{}
	route := issuerRouted{{authn: none, bundle: signer.CertPEM}}
	if resp, ok, err := route.AuthenticateRequest(&http.Request{}); resp != nil || ok || err != nil || none.calls != 0 {
		t.Errorf("without a certificate: %v %v %v, %d calls", resp, ok, err, none.calls)
	}
}

// A changed bundle is parsed again.
func TestIssuerRoutedFollowsTheBundle(t *testing.T) {
	t.Parallel()
	first, second := mustCA(t, "first"), mustCA(t, "second")
	bundle := first.CertPEM()
	a, b := &countingAuthenticator{}, &countingAuthenticator{}
	route := issuerRouted{{authn: a, bundle: func() []byte { return bundle }}, {authn: b, bundle: second.CertPEM}}
	req := clientRequest(t, second)
	if _, _, err := route.AuthenticateRequest(req); err != nil {
		t.Fatal(err)
	}
	if a.calls != 0 || b.calls != 1 {
		t.Fatalf("before the change: calls %d, %d; want 0, 1", a.calls, b.calls)
	}
	bundle = slices.Concat(first.CertPEM(), second.CertPEM()) // the first CA now trusts the second too
	if _, _, err := route.AuthenticateRequest(req); err != nil {
		t.Fatal(err)
	}
	if a.calls != 1 {
		t.Errorf("after the bundle changed, the first CA was not tried: %d calls", a.calls)
	}
}

func mustCA(t *testing.T, name string) *certauthority.CA {
	t.Helper()
	ca, err := certauthority.New(name, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func certSubject(t *testing.T, ca *certauthority.CA) []byte {
	t.Helper()
	block, _ := pem.Decode(ca.CertPEM())
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert.RawSubject
}
