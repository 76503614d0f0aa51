// SPDX-License-Identifier: Apache-2.0

package certauthority

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
	"unicode/utf8"
)

// Client certificate lifetimes (docs/wire-contract.md §5): 5 minutes by default, configurable
// from 5 to 60 minutes. Reference CLIs drop cached credentials after an hour, so longer
// certificates would only be thrown away.
const (
	DefaultTTL = 5 * time.Minute
	MinTTL     = 5 * time.Minute
	MaxTTL     = 60 * time.Minute
)

// MaxSubjectBytes bounds the DER-encoded subject (CN plus one O per group). A TLS
// handshake message may not exceed 64 KiB in Go (and so in kube-apiserver); keeping the
// subject at half of that leaves room for the rest of the certificate and the chain.
const MaxSubjectBytes = 32 * 1024

// Errors that say why an identity cannot be carried by a certificate; callers audit the
// reason and tell clients only that authentication failed.
var (
	ErrEmptyUsername    = errors.New("username is empty")
	ErrInvalidIdentity  = errors.New("username or group is not valid UTF-8 or contains a control character")
	ErrIdentityTooLarge = errors.New("username and groups do not fit in a client certificate")
	ErrTTLOutOfRange    = fmt.Errorf("certificate lifetime must be between %s and %s", MinTTL, MaxTTL)
)

// KeyPair is a freshly issued certificate and its key, both PEM.
type KeyPair struct {
	CertPEM  []byte
	KeyPEM   []byte // PKCS#8 "PRIVATE KEY"
	NotAfter time.Time
}

// ValidateTTL reports whether ttl is an allowed client certificate lifetime.
func ValidateTTL(ttl time.Duration) error {
	if ttl < MinTTL || ttl > MaxTTL {
		return fmt.Errorf("%w (got %s)", ErrTTLOutOfRange, ttl)
	}
	return nil
}

// IssueClientCert signs a new client certificate for username in groups (one O per
// group, in order), valid from 5 minutes ago until ttl from now, with a fresh P-256 key.
func (c *CA) IssueClientCert(username string, groups []string, ttl time.Duration) (*KeyPair, error) {
	if err := ValidateTTL(ttl); err != nil {
		return nil, err
	}
	subject, err := ClientSubject(username, groups)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), c.rand)
	if err != nil {
		return nil, fmt.Errorf("generate client key: %w", err)
	}
	serial, err := c.serial()
	if err != nil {
		return nil, err
	}
	now := c.clock()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             now.Add(-Backdate),
		NotAfter:              now.Add(ttl),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
	}
	return c.sign(tmpl, key)
}

// ClientSubject builds CN=username with one O per group, in order, and checks that a
// certificate can carry it (valid UTF-8, no control characters, within MaxSubjectBytes).
func ClientSubject(username string, groups []string) (pkix.Name, error) {
	if username == "" {
		return pkix.Name{}, ErrEmptyUsername
	}
	for _, s := range append([]string{username}, groups...) {
		if !utf8.ValidString(s) || strings.ContainsFunc(s, isControl) {
			return pkix.Name{}, ErrInvalidIdentity
		}
	}
	// pkix.Name.Organization would put every O into one multi-valued RDN, a DER SET whose
	// members are sorted; one RDN per group keeps the groups in the caller's order.
	subject := pkix.Name{CommonName: username}
	for _, g := range groups {
		subject.ExtraNames = append(subject.ExtraNames, pkix.AttributeTypeAndValue{Type: oidOrganization, Value: g})
	}
	der, err := asn1.Marshal(subject.ToRDNSequence())
	if err != nil {
		return pkix.Name{}, fmt.Errorf("%w: %w", ErrInvalidIdentity, err)
	}
	if len(der) > MaxSubjectBytes {
		return pkix.Name{}, fmt.Errorf("%w: subject is %d bytes for %d groups, limit %d", ErrIdentityTooLarge, len(der), len(groups), MaxSubjectBytes)
	}
	return subject, nil
}

var oidOrganization = asn1.ObjectIdentifier{2, 5, 4, 10} //nolint:gochecknoglobals // constant OID

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// IssueServingCert signs a new server certificate for hosts (DNS names or IP
// addresses; the first is also the CN), valid from 5 minutes ago for lifetime.
func (c *CA) IssueServingCert(hosts []string, lifetime time.Duration) (*KeyPair, error) {
	if len(hosts) == 0 {
		return nil, errors.New("a serving certificate needs at least one host")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), c.rand)
	if err != nil {
		return nil, fmt.Errorf("generate serving key: %w", err)
	}
	serial, err := c.serial()
	if err != nil {
		return nil, err
	}
	now := c.clock()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hosts[0]},
		NotBefore:             now.Add(-Backdate),
		NotAfter:              now.Add(lifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return c.sign(tmpl, key)
}

func (c *CA) sign(tmpl *x509.Certificate, key *ecdsa.PrivateKey) (*KeyPair, error) {
	der, err := x509.CreateCertificate(c.rand, tmpl, c.cert, key.Public(), c.key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return &KeyPair{
		CertPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		NotAfter: tmpl.NotAfter,
	}, nil
}
