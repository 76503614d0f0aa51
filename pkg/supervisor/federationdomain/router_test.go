// SPDX-License-Identifier: Apache-2.0

package federationdomain

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/selkie-dev/selkie/pkg/certauthority"
)

func testCert(t *testing.T, host string) (certPEM, keyPEM []byte, cert *tls.Certificate) {
	t.Helper()
	ca, err := certauthority.New("test-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.IssueServingCert([]string{host}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return kp.CertPEM, kp.KeyPEM, &c
}

func TestRouterCertificate(t *testing.T) {
	_, _, named := testCert(t, "issuer.example.com")
	_, _, def := testCert(t, "198.18.16.1")
	rt := &Router{}
	if c := rt.Certificate(&tls.ClientHelloInfo{ServerName: "issuer.example.com"}); c != nil {
		t.Error("a router with nothing set returned a certificate")
	}
	rt.Set(nil, map[string]*tls.Certificate{"Issuer.Example.com": named})
	for _, c := range []struct {
		sni  string
		want *tls.Certificate
	}{{"issuer.example.com", named}, {"ISSUER.example.com", named}, {"", nil}, {"other.example.com", nil}} {
		if got := rt.Certificate(&tls.ClientHelloInfo{ServerName: c.sni}); got != c.want {
			t.Errorf("without a default, SNI %q: got %p, want %p", c.sni, got, c.want)
		}
	}
	rt.Set(nil, map[string]*tls.Certificate{"issuer.example.com": named, "": def})
	for _, c := range []struct {
		sni  string
		want *tls.Certificate
	}{{"issuer.example.com", named}, {"", def}, {"other.example.com", def}} {
		if got := rt.Certificate(&tls.ClientHelloInfo{ServerName: c.sni}); got != c.want {
			t.Errorf("with a default, SNI %q: got %p, want %p", c.sni, got, c.want)
		}
	}
}

func TestAddDefaultCert(t *testing.T) {
	certPEM, keyPEM, _ := testCert(t, "198.18.16.1")
	secret := func(name string, crt []byte) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: keyPEM}}
	}
	client := fake.NewClientBuilder().WithScheme(scheme.Scheme).
		WithObjects(secret("good", certPEM), secret("bad", []byte("not a certificate"))).Build()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		name string
		want bool
	}{{"", false}, {"good", true}, {"bad", false}, {"missing", false}} {
		r := &Reconciler{Client: client, Namespace: "ns", DefaultTLSSecret: c.name, Log: log}
		certs := map[string]*tls.Certificate{}
		r.addDefaultCert(context.Background(), certs)
		if got := certs[""] != nil; got != c.want {
			t.Errorf("DefaultTLSSecret %q: default certificate loaded %v, want %v", c.name, got, c.want)
		}
	}
}
