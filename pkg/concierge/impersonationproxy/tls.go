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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/internal/casecret"
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
	Name      string           // the self-managed Secret
	Clock     func() time.Time // nil: time.Now
}

func (s ServingCerts) now() time.Time {
	if s.Clock != nil {
		return s.Clock()
	}
	return time.Now()
}

// Get returns the serving certificate for host: from the Secret named by spec.tls when
// set, else from the self-managed Secret, created or reissued (with the same CA) when it
// does not cover host.
func (s ServingCerts) Get(ctx context.Context, spec *configv1alpha1.ImpersonationProxySpec, host string) (*servingCert, error) {
	if spec.TLS != nil && spec.TLS.SecretName != "" {
		return s.fromSecret(ctx, spec.TLS)
	}
	policy := casecret.Policy{CommonName: "impersonation-proxy-serving-ca", Lifetime: ServingLifetime, Clock: s.now}
	data, _, err := casecret.Update(ctx, s.Kube.CoreV1().Secrets(s.Namespace), s.Name, corev1.SecretTypeTLS,
		func(old map[string][]byte) (map[string][]byte, bool, error) {
			if _, err := parsePair(old, host, s.now()); err == nil {
				return old, false, nil
			}
			rot, err := policy.Renew(old[caCertKey], old[caKeyKey])
			if err != nil {
				return nil, false, err
			}
			kp, err := rot.CA.IssueServingCert([]string{host}, ServingLifetime)
			if err != nil {
				return nil, false, err
			}
			caPEM, caKey, err := rot.CA.PEM()
			if err != nil {
				return nil, false, err
			}
			return map[string][]byte{caCertKey: caPEM, caKeyKey: caKey, corev1.TLSCertKey: kp.CertPEM, corev1.TLSPrivateKeyKey: kp.KeyPEM}, true, nil
		})
	if err != nil {
		return nil, fmt.Errorf("serving Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	cert, err := parsePair(data, host, s.now())
	if err != nil {
		return nil, fmt.Errorf("serving Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return &servingCert{cert: cert, caPEM: data[caCertKey]}, nil
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

// parsePair loads tls.crt and tls.key and checks the certificate is valid for host at now.
func parsePair(data map[string][]byte, host string, now time.Time) (*tls.Certificate, error) {
	cert, err := tls.X509KeyPair(data[corev1.TLSCertKey], data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, err
	}
	if now.After(leaf.NotAfter) {
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
