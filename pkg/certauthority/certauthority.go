// SPDX-License-Identifier: Apache-2.0

package certauthority

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"
)

// Backdate is how far before "now" issued certificates become valid, so that clients
// and servers with slightly slow clocks accept them at once.
const Backdate = 5 * time.Minute

// CA signs certificates with one key pair. It is safe for concurrent use.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
	clock   func() time.Time
	rand    io.Reader
}

// Option changes how a CA gets time and randomness (tests inject both).
type Option func(*CA)

// WithClock makes the CA read the time from clock.
func WithClock(clock func() time.Time) Option { return func(c *CA) { c.clock = clock } }

// WithRand makes the CA draw keys and serial numbers from r.
func WithRand(r io.Reader) Option { return func(c *CA) { c.rand = r } }

func newCA(opts []Option) *CA {
	c := &CA{clock: time.Now, rand: rand.Reader}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Load parses a PEM CA certificate and its PEM private key (PKCS#8, SEC 1 EC or PKCS#1
// RSA). It refuses a certificate that is not a CA, may not sign certificates, is outside
// its validity period, or does not match the key.
func Load(certPEM, keyPEM []byte, opts ...Option) (*CA, error) {
	c := newCA(opts)
	cert, err := parseCertificate(certPEM)
	if err != nil {
		return nil, err
	}
	key, err := parsePrivateKey(keyPEM)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errors.New("certificate is not a CA allowed to sign certificates")
	}
	if now := c.clock(); now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, fmt.Errorf("CA certificate is valid from %s to %s, not now", cert.NotBefore.UTC(), cert.NotAfter.UTC())
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, errors.New("private key does not match the CA certificate")
	}
	c.cert, c.key = cert, key
	c.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	return c, nil
}

// New creates a self-signed ECDSA P-256 CA named commonName, valid from now (backdated)
// for lifetime. Use PEM to persist it.
func New(commonName string, lifetime time.Duration, opts ...Option) (*CA, error) {
	c := newCA(opts)
	key, err := ecdsa.GenerateKey(elliptic.P256(), c.rand)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := c.serial()
	if err != nil {
		return nil, err
	}
	now := c.clock()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-Backdate),
		NotAfter:              now.Add(lifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(c.rand, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("self-sign CA: %w", err)
	}
	if c.cert, err = x509.ParseCertificate(der); err != nil {
		return nil, err
	}
	c.key = key
	c.certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return c, nil
}

// CertPEM returns the CA certificate, for trust bundles.
func (c *CA) CertPEM() []byte { return c.certPEM }

// NotBefore is when the CA certificate became valid (Backdate before it was made).
func (c *CA) NotBefore() time.Time { return c.cert.NotBefore }

// NotAfter is when the CA certificate expires.
func (c *CA) NotAfter() time.Time { return c.cert.NotAfter }

// PEM returns the CA certificate and its private key (PKCS#8), for persisting.
func (c *CA) PEM() (certPEM, keyPEM []byte, err error) {
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode CA key: %w", err)
	}
	return c.certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// serial returns a random positive 128-bit serial number.
func (c *CA) serial() (*big.Int, error) {
	n, err := rand.Int(c.rand, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil // never zero
}

func parseCertificate(certPEM []byte) (*x509.Certificate, error) {
	block, rest := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("CA certificate is not a PEM CERTIFICATE block")
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, errors.New("CA certificate PEM holds more than one block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	return cert, nil
}

func parsePrivateKey(keyPEM []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("CA key is not PEM")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("CA key has unsupported PEM type %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse CA key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("CA key cannot sign")
	}
	return signer, nil
}
