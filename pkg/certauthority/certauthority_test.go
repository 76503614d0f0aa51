// SPDX-License-Identifier: Apache-2.0

package certauthority

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testNow = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return testNow }

func mustNew(t *testing.T) *CA {
	t.Helper()
	ca, err := New("test-ca", 24*time.Hour, WithClock(fixedClock))
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func parsePEMCert(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 {
		t.Fatalf("want exactly one PEM certificate, got %q", data)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestIssueClientCert(t *testing.T) {
	t.Parallel()
	ca := mustNew(t)
	groups := []string{"seals", "admins", "a:b", "ünïcödé", "seals/admins"}
	cred, err := ca.IssueClientCert("pinny@example.com", groups, DefaultTTL)
	if err != nil {
		t.Fatal(err)
	}
	cert := parsePEMCert(t, cred.CertPEM)

	if cert.Subject.CommonName != "pinny@example.com" {
		t.Errorf("CN = %q", cert.Subject.CommonName)
	}
	if diff := cmp.Diff(groups, cert.Subject.Organization); diff != "" {
		t.Errorf("O must be the groups in order (-want +got):\n%s", diff)
	}
	if !cert.NotBefore.Equal(testNow.Add(-5*time.Minute)) || !cert.NotAfter.Equal(testNow.Add(5*time.Minute)) || !cred.NotAfter.Equal(cert.NotAfter) {
		t.Errorf("validity %s..%s (NotAfter field %s), want now-5m..now+5m", cert.NotBefore, cert.NotAfter, cred.NotAfter)
	}
	if cert.IsCA || len(cert.DNSNames)+len(cert.IPAddresses)+len(cert.URIs)+len(cert.EmailAddresses) != 0 {
		t.Errorf("leaf must not be a CA or carry SANs: %+v", cert)
	}
	if diff := cmp.Diff([]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, cert.ExtKeyUsage); diff != "" {
		t.Errorf("ExtKeyUsage (-want +got):\n%s", diff)
	}
	if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() > 129 {
		t.Errorf("serial %s is not a positive 128-bit number", cert.SerialNumber)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CertPEM())
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: testNow, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("verify against the CA: %v", err)
	}

	block, _ := pem.Decode(cred.KeyPEM)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("key is not a PKCS#8 PEM block: %q", cred.KeyPEM)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, ok := key.(*ecdsa.PrivateKey)
	if !ok || ecKey.Curve != elliptic.P256() || !ecKey.PublicKey.Equal(cert.PublicKey) {
		t.Errorf("key is not the P-256 key of the certificate")
	}
}

func TestIssueClientCertFreshKeyAndSerialEachTime(t *testing.T) {
	t.Parallel()
	ca := mustNew(t)
	a, err := ca.IssueClientCert("u", nil, DefaultTTL)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ca.IssueClientCert("u", nil, DefaultTTL)
	if err != nil {
		t.Fatal(err)
	}
	ca1, cb := parsePEMCert(t, a.CertPEM), parsePEMCert(t, b.CertPEM)
	if string(a.KeyPEM) == string(b.KeyPEM) || ca1.SerialNumber.Cmp(cb.SerialNumber) == 0 {
		t.Error("two certificates share a key or a serial number")
	}
	if len(ca1.Subject.Organization) != 0 {
		t.Errorf("no groups should give no O, got %v", ca1.Subject.Organization)
	}
}

func TestIssueClientCertRejects(t *testing.T) {
	t.Parallel()
	ca := mustNew(t)
	many := make([]string, 2000)
	for i := range many {
		many[i] = "group-with-a-fairly-long-name-" + big.NewInt(int64(i)).String()
	}
	tests := []struct {
		name     string
		username string
		groups   []string
		ttl      time.Duration
		want     error
	}{
		{name: "empty username", username: "", ttl: DefaultTTL, want: ErrEmptyUsername},
		{name: "invalid UTF-8", username: "a\xffb", ttl: DefaultTTL, want: ErrInvalidIdentity},
		{name: "control character in group", username: "u", groups: []string{"ok", "bad\ngroup"}, ttl: DefaultTTL, want: ErrInvalidIdentity},
		{name: "oversized groups", username: "u", groups: many, ttl: DefaultTTL, want: ErrIdentityTooLarge},
		{name: "oversized username", username: strings.Repeat("x", MaxSubjectBytes), ttl: DefaultTTL, want: ErrIdentityTooLarge},
		{name: "ttl too short", username: "u", ttl: time.Minute, want: ErrTTLOutOfRange},
		{name: "ttl too long", username: "u", ttl: 2 * time.Hour, want: ErrTTLOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cred, err := ca.IssueClientCert(tt.username, tt.groups, tt.ttl)
			if !errors.Is(err, tt.want) || cred != nil {
				t.Errorf("got %v, %v; want error %v and no credential", cred, err, tt.want)
			}
		})
	}
	// The largest allowed identity still makes a usable certificate.
	cred, err := ca.IssueClientCert("u", many[:700], MaxTTL)
	if err != nil {
		t.Fatalf("700 groups: %v", err)
	}
	if got := len(parsePEMCert(t, cred.CertPEM).Subject.Organization); got != 700 {
		t.Errorf("700 groups came back as %d", got)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	ca := mustNew(t)
	certPEM, keyPEM, err := ca.PEM()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(certPEM, keyPEM, WithClock(fixedClock))
	if err != nil {
		t.Fatalf("Load of a CA made by New: %v", err)
	}
	cred, err := loaded.IssueClientCert("u", []string{"g"}, DefaultTTL)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CertPEM())
	if _, err := parsePEMCert(t, cred.CertPEM).Verify(x509.VerifyOptions{Roots: roots, CurrentTime: testNow, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("certificate from the loaded CA does not verify: %v", err)
	}

	other := mustNew(t)
	_, otherKey, _ := other.PEM()
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	secDER, _ := x509.MarshalECPrivateKey(ecKey)
	leaf, _ := ca.IssueClientCert("leaf", nil, DefaultTTL)
	tests := []struct {
		name, wantErr string
		cert, key     []byte
		now           time.Time
	}{
		{name: "garbage cert", cert: []byte("nope"), key: keyPEM, wantErr: "not a PEM CERTIFICATE"},
		{name: "two certs", cert: append(append([]byte{}, certPEM...), certPEM...), key: keyPEM, wantErr: "more than one block"},
		{name: "garbage key", cert: certPEM, key: []byte("nope"), wantErr: "key is not PEM"},
		{name: "unknown key type", cert: certPEM, key: pem.EncodeToMemory(&pem.Block{Type: "DSA PRIVATE KEY", Bytes: []byte{1}}), wantErr: "unsupported PEM type"},
		{name: "mismatched key", cert: certPEM, key: otherKey, wantErr: "does not match"},
		{name: "mismatched SEC1 key", cert: certPEM, key: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: secDER}), wantErr: "does not match"},
		{name: "not a CA", cert: leaf.CertPEM, key: leaf.KeyPEM, wantErr: "not a CA"},
		{name: "expired", cert: certPEM, key: keyPEM, now: testNow.Add(48 * time.Hour), wantErr: "not now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			now := tt.now
			if now.IsZero() {
				now = testNow
			}
			_, err := Load(tt.cert, tt.key, WithClock(func() time.Time { return now }))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Load error = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewCA(t *testing.T) {
	t.Parallel()
	ca := mustNew(t)
	cert := parsePEMCert(t, ca.CertPEM())
	want := pkix.Name{CommonName: "test-ca"}
	if cert.Subject.String() != want.String() || !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA certificate %v IsCA=%v usage=%v", cert.Subject, cert.IsCA, cert.KeyUsage)
	}
	if !ca.NotAfter().Equal(testNow.Add(24 * time.Hour)) {
		t.Errorf("NotAfter = %s", ca.NotAfter())
	}
}

func TestIssueServingCert(t *testing.T) {
	t.Parallel()
	ca := mustNew(t)
	kp, err := ca.IssueServingCert([]string{"api.selkie.svc", "127.0.0.1", "localhost"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert := parsePEMCert(t, kp.CertPEM)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CertPEM())
	for _, host := range []string{"api.selkie.svc", "127.0.0.1", "localhost"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, CurrentTime: testNow}); err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "other.svc", CurrentTime: testNow}); err == nil {
		t.Error("certificate verifies for a host it does not name")
	}
	if _, err := ca.IssueServingCert(nil, time.Hour); err == nil {
		t.Error("no hosts accepted")
	}
}
