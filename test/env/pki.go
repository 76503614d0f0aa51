// SPDX-License-Identifier: Apache-2.0

package env

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cloudflare/cfssl/config"
	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/helpers"
	"github.com/cloudflare/cfssl/initca"
	cflog "github.com/cloudflare/cfssl/log"
	"github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/local"
)

// caLifetime and leafLifetime bound the environment's PKI: long enough for a held-open
// environment, short enough that a leaked key is worthless soon.
const (
	caLifetime   = 7 * 24 * time.Hour
	leafLifetime = 7 * 24 * time.Hour
)

//nolint:gochecknoglobals // cfssl's logger is process-wide, so it is silenced once per process.
var quietCFSSL sync.Once

// CA is a certificate authority of the environment, kept as PEM files in Dir.
type CA struct {
	// CertFile and KeyFile are the CA's PEM files.
	CertFile, KeyFile string
	// CertPEM is the CA certificate, for trust bundles and kubeconfigs.
	CertPEM []byte

	dir    string
	signer *local.Signer
}

// KeyPair is a leaf certificate and its key, as PEM files.
type KeyPair struct {
	CertFile, KeyFile string
}

// Usage selects the extended key usage of a leaf certificate.
type Usage string

// The two leaf profiles of the environment.
const (
	ServerAuth Usage = "server"
	ClientAuth Usage = "client"
)

// NewCA creates a self-signed ECDSA P-256 CA named cn and writes it to dir/name.{crt,key}.
func NewCA(dir, name, cn string) (*CA, error) {
	quietCFSSL.Do(func() { cflog.Level = cflog.LevelWarning }) // cfssl logs every signature at info
	certPEM, _, keyPEM, err := initca.New(&csr.CertificateRequest{
		CN:         cn,
		KeyRequest: &csr.KeyRequest{A: "ecdsa", S: 256},
		CA:         &csr.CAConfig{Expiry: caLifetime.String()},
	})
	if err != nil {
		return nil, fmt.Errorf("create CA %s: %w", cn, err)
	}
	ca := &CA{CertFile: filepath.Join(dir, name+".crt"), KeyFile: filepath.Join(dir, name+".key"), CertPEM: certPEM, dir: dir}
	if err := writeFiles(map[string][]byte{ca.CertFile: certPEM, ca.KeyFile: keyPEM}); err != nil {
		return nil, err
	}
	cert, err := helpers.ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("parse CA %s: %w", cn, err)
	}
	key, err := helpers.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("parse CA key %s: %w", cn, err)
	}
	ca.signer, err = local.NewSigner(key, cert, signer.DefaultSigAlgo(key), signingPolicy())
	if err != nil {
		return nil, fmt.Errorf("CA signer %s: %w", cn, err)
	}
	return ca, nil
}

func signingPolicy() *config.Signing {
	profile := func(usages ...string) *config.SigningProfile {
		return &config.SigningProfile{
			Usage:        append([]string{"digital signature", "key encipherment"}, usages...),
			Expiry:       leafLifetime,
			ExpiryString: leafLifetime.String(),
			Backdate:     time.Minute,
		}
	}
	return &config.Signing{
		Default:  profile(),
		Profiles: map[string]*config.SigningProfile{string(ServerAuth): profile("server auth"), string(ClientAuth): profile("client auth")},
	}
}

// Issue signs a new ECDSA P-256 leaf for cn with one O per entry of orgs and the given
// SANs (IP addresses or DNS names), and writes it to name.{crt,key} beside the CA.
func (ca *CA) Issue(name string, usage Usage, cn string, orgs []string, hosts ...string) (KeyPair, error) {
	return ca.IssueInto(ca.dir, name, usage, cn, orgs, hosts...)
}

// IssueInto is Issue writing the files to dir instead of beside the CA.
func (ca *CA) IssueInto(dir, name string, usage Usage, cn string, orgs []string, hosts ...string) (KeyPair, error) {
	req := &csr.CertificateRequest{CN: cn, KeyRequest: &csr.KeyRequest{A: "ecdsa", S: 256}}
	for _, o := range orgs {
		req.Names = append(req.Names, csr.Name{O: o})
	}
	csrPEM, keyPEM, err := csr.ParseRequest(req)
	if err != nil {
		return KeyPair{}, fmt.Errorf("key and CSR for %s: %w", name, err)
	}
	certPEM, err := ca.signer.Sign(signer.SignRequest{Request: string(csrPEM), Hosts: hosts, Profile: string(usage)})
	if err != nil {
		return KeyPair{}, fmt.Errorf("sign %s: %w", name, err)
	}
	kp := KeyPair{CertFile: filepath.Join(dir, name+".crt"), KeyFile: filepath.Join(dir, name+".key")}
	return kp, writeFiles(map[string][]byte{kp.CertFile: certPEM, kp.KeyFile: keyPEM})
}

// newServiceAccountKey writes an ECDSA P-256 key pair for service-account token signing.
func newServiceAccountKey(dir string) (keyFile, pubFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return "", "", err
	}
	keyFile, pubFile = filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub")
	return keyFile, pubFile, writeFiles(map[string][]byte{
		keyFile: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		pubFile: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
	})
}

func writeFiles(files map[string][]byte) error {
	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}
