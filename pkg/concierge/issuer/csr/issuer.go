// SPDX-License-Identifier: Apache-2.0

package csr

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/selkie-dev/selkie/pkg/certauthority"
)

// MinTTL is the shortest lifetime the CSR API grants (expirationSeconds ≥ 600).
const MinTTL = 10 * time.Minute

// pollInterval is how often the issuer looks for the signed certificate; the controller
// manager signs an approved CSR in about 100 ms.
const pollInterval = 50 * time.Millisecond

// Issuer gets client certificates signed by the cluster through the CSR API.
type Issuer struct {
	kube    kubernetes.Interface
	ttl     time.Duration
	timeout time.Duration
}

// New returns an Issuer for certificates of lifetime ttl, raised to MinTTL if shorter
// and at most certauthority.MaxTTL. timeout bounds the wait for the signature.
func New(kube kubernetes.Interface, ttl, timeout time.Duration) (*Issuer, error) {
	if ttl < MinTTL {
		ttl = MinTTL
	}
	if ttl > certauthority.MaxTTL {
		return nil, fmt.Errorf("%w (got %s)", certauthority.ErrTTLOutOfRange, ttl)
	}
	return &Issuer{kube: kube, ttl: ttl, timeout: timeout}, nil
}

// IssueClientCert creates, approves and waits for a CSR for username in groups, then
// deletes it; the certificate and a fresh P-256 key are returned.
func (i *Issuer) IssueClientCert(ctx context.Context, username string, groups []string) (*certauthority.KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	req, err := csrPEM(key, username, groups)
	if err != nil {
		return nil, err
	}
	seconds := int32(i.ttl / time.Second) //nolint:gosec // G115: the TTL is at most certauthority.MaxTTL (checked in New).
	csrs := i.kube.CertificatesV1().CertificateSigningRequests()
	created, err := csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "selkie-concierge-", Labels: map[string]string{"app.kubernetes.io/managed-by": "selkie-concierge"}},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request: req, SignerName: certificatesv1.KubeAPIServerClientSignerName, ExpirationSeconds: &seconds,
			Usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create CSR: %w", err)
	}
	defer func() { // signed or not, the request has served its purpose
		_ = csrs.Delete(context.WithoutCancel(ctx), created.Name, metav1.DeleteOptions{})
	}()
	created.Status.Conditions = append(created.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue,
		Reason: "SelkieConciergeApproved", Message: "the concierge authenticated this user's token",
	})
	if _, err := csrs.UpdateApproval(ctx, created.Name, created, metav1.UpdateOptions{}); err != nil {
		return nil, fmt.Errorf("approve CSR %s: %w", created.Name, err)
	}
	certPEM, err := i.waitSigned(ctx, created.Name)
	if err != nil {
		return nil, err
	}
	return keyPair(certPEM, key)
}

func (i *Issuer) waitSigned(ctx context.Context, name string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, i.timeout)
	defer cancel()
	for {
		got, err := i.kube.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			if len(got.Status.Certificate) > 0 {
				return got.Status.Certificate, nil
			}
			for _, c := range got.Status.Conditions {
				if c.Type == certificatesv1.CertificateFailed || c.Type == certificatesv1.CertificateDenied {
					return nil, fmt.Errorf("CSR %s %s: %s", name, c.Type, c.Message)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("CSR %s was not signed within %s (is the cluster's kube-apiserver-client signer running?): %w", name, i.timeout, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// csrPEM builds a CSR with CN=username and one O RDN per group, in order.
func csrPEM(key *ecdsa.PrivateKey, username string, groups []string) ([]byte, error) {
	subject, err := certauthority.ClientSubject(username, groups)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject}, key)
	if err != nil {
		return nil, fmt.Errorf("certificate request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

func keyPair(certPEM []byte, key *ecdsa.PrivateKey) (*certauthority.KeyPair, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil, errors.New("signed certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse signed certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &certauthority.KeyPair{CertPEM: certPEM, KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), NotAfter: cert.NotAfter}, nil
}
