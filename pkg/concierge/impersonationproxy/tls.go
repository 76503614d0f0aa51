// SPDX-License-Identifier: Apache-2.0

package impersonationproxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/certauthority"
)

// ServingLifetime is the lifetime of the self-managed serving CA and certificate (§4.3).
const ServingLifetime = 100 * 365 * 24 * time.Hour

// servingCert is the proxy's serving certificate and the CA advertised to clients (PEM,
// possibly empty).
type servingCert struct {
	cert  *tls.Certificate
	caPEM []byte
}

// ServingCerts finds the proxy's serving certificate.
type ServingCerts struct {
	Kube      kubernetes.Interface
	Namespace string
	Name      string // the self-managed Secret
}

// Get returns the serving certificate for host: from the Secret named by spec.tls when
// set, else from the self-managed Secret, created or reissued (with the same CA) when it
// does not cover host.
func (s ServingCerts) Get(ctx context.Context, spec *configv1alpha1.ImpersonationProxySpec, host string) (*servingCert, error) {
	if spec.TLS != nil && spec.TLS.SecretName != "" {
		return s.fromSecret(ctx, spec.TLS)
	}
	secrets := s.Kube.CoreV1().Secrets(s.Namespace)
	secret, err := secrets.Get(ctx, s.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		secret = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace}, Type: corev1.SecretTypeTLS}
	} else if err != nil {
		return nil, fmt.Errorf("read serving Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	if cert, err := parsePair(secret.Data, host); err == nil {
		return &servingCert{cert: cert, caPEM: secret.Data[caCertKey]}, nil
	}
	ca, err := certauthority.Load(secret.Data[caCertKey], secret.Data[caKeyKey])
	if err != nil {
		if ca, err = certauthority.New("impersonation-proxy-serving-ca", ServingLifetime); err != nil {
			return nil, err
		}
	}
	kp, err := ca.IssueServingCert([]string{host}, ServingLifetime)
	if err != nil {
		return nil, err
	}
	caPEM, caKey, err := ca.PEM()
	if err != nil {
		return nil, err
	}
	secret = secret.DeepCopy()
	secret.Data = map[string][]byte{caCertKey: caPEM, caKeyKey: caKey, corev1.TLSCertKey: kp.CertPEM, corev1.TLSPrivateKeyKey: kp.KeyPEM}
	if secret.ResourceVersion == "" {
		_, err = secrets.Create(ctx, secret, metav1.CreateOptions{})
	} else {
		_, err = secrets.Update(ctx, secret, metav1.UpdateOptions{})
	}
	if err != nil {
		// Another replica may have written it first; the next sync reads theirs.
		return nil, fmt.Errorf("write serving Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	cert, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		return nil, err
	}
	return &servingCert{cert: &cert, caPEM: caPEM}, nil
}

// fromSecret reads a kubernetes.io/tls Secret chosen by the admin.
func (s ServingCerts) fromSecret(ctx context.Context, spec *configv1alpha1.ImpersonationProxyTLSSpec) (*servingCert, error) {
	secret, err := s.Kube.CoreV1().Secrets(s.Namespace).Get(ctx, spec.SecretName, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("read TLS Secret %s/%s: %w", s.Namespace, spec.SecretName, err)
	}
	if secret.Type != corev1.SecretTypeTLS {
		return nil, fmt.Errorf("TLS Secret %s/%s has type %q, want %q", s.Namespace, spec.SecretName, secret.Type, corev1.SecretTypeTLS)
	}
	cert, err := tls.X509KeyPair(secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, fmt.Errorf("TLS Secret %s/%s: %w", s.Namespace, spec.SecretName, err)
	}
	caPEM := secret.Data[caCertKey]
	if spec.CertificateAuthorityData != "" {
		if caPEM, err = base64.StdEncoding.DecodeString(spec.CertificateAuthorityData); err != nil {
			return nil, fmt.Errorf("spec.impersonationProxy.tls.certificateAuthorityData: %w", err)
		}
	}
	if len(caPEM) == 0 {
		// The CredentialIssuer frontend requires a CA bundle to advertise.
		return nil, fmt.Errorf("TLS Secret %s/%s has no ca.crt and spec.impersonationProxy.tls.certificateAuthorityData is unset", s.Namespace, spec.SecretName)
	}
	{
		if block, _ := pem.Decode(caPEM); block == nil {
			return nil, fmt.Errorf("the advertised CA bundle of TLS Secret %s/%s is not PEM", s.Namespace, spec.SecretName)
		}
	}
	return &servingCert{cert: &cert, caPEM: caPEM}, nil
}

// parsePair loads tls.crt and tls.key and checks the certificate is valid for host.
func parsePair(data map[string][]byte, host string) (*tls.Certificate, error) {
	cert, err := tls.X509KeyPair(data[corev1.TLSCertKey], data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, err
	}
	if time.Now().After(leaf.NotAfter) {
		return nil, fmt.Errorf("serving certificate expired")
	}
	if ip := net.ParseIP(host); ip != nil {
		host = ip.String()
	}
	if err := leaf.VerifyHostname(host); err != nil {
		return nil, err
	}
	return &cert, nil
}
