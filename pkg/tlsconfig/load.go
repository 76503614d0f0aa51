// SPDX-License-Identifier: Apache-2.0

package tlsconfig

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Error is a problem with a TLS spec or the object it names. Transient is true
// when reading the object failed for a reason other than its content or absence
// (for example the API server was unavailable), so retrying may help.
type Error struct {
	Transient bool
	err       error
}

// Error returns the message, which names the offending field or object.
func (e *Error) Error() string { return e.err.Error() }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.err }

func invalid(format string, args ...any) error {
	return &Error{err: fmt.Errorf(format, args...)}
}

// Load resolves s into a Bundle, reading a named Secret or ConfigMap from
// namespace through r. Errors are *Error values whose messages name the offending
// field (under path, e.g. "spec.tls") and never include secret contents.
func Load(ctx context.Context, r client.Reader, namespace, path string, s Spec) (*Bundle, error) {
	switch {
	case s.CertificateAuthorityData != "" && s.Source != nil:
		return nil, invalid("%s: certificateAuthorityData and certificateAuthorityDataSource are mutually exclusive", path)
	case s.CertificateAuthorityData != "":
		data, err := base64.StdEncoding.DecodeString(s.CertificateAuthorityData)
		if err != nil {
			return nil, invalid("%s.certificateAuthorityData is not valid base64: %w", path, err)
		}
		return parseBundle(data, path+".certificateAuthorityData")
	case s.Source != nil:
		data, err := readSource(ctx, r, namespace, path+".certificateAuthorityDataSource", *s.Source)
		if err != nil {
			return nil, err
		}
		return parseBundle(data, fmt.Sprintf("%s %s/%s key %q", s.Source.Kind, namespace, s.Source.Name, s.Source.Key))
	default:
		return &Bundle{}, nil
	}
}

// readSource returns the bytes under src.Key of the object src names.
func readSource(ctx context.Context, r client.Reader, namespace, path string, src Source) ([]byte, error) {
	key := client.ObjectKey{Namespace: namespace, Name: src.Name}
	var (
		obj  client.Object
		data func() ([]byte, bool)
	)
	switch src.Kind {
	case KindSecret:
		secret := &corev1.Secret{}
		obj, data = secret, func() ([]byte, bool) { v, ok := secret.Data[src.Key]; return v, ok }
	case KindConfigMap:
		cm := &corev1.ConfigMap{}
		obj, data = cm, func() ([]byte, bool) { v, ok := cm.Data[src.Key]; return []byte(v), ok }
	default:
		return nil, invalid("%s.kind %q is not %s or %s", path, src.Kind, KindSecret, KindConfigMap)
	}
	if err := r.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, invalid("%s: %s %s/%s not found", path, src.Kind, namespace, src.Name)
		}
		return nil, &Error{Transient: true, err: fmt.Errorf("%s: get %s %s/%s: %w", path, src.Kind, namespace, src.Name, err)}
	}
	if s, ok := obj.(*corev1.Secret); ok && s.Type != corev1.SecretTypeOpaque && s.Type != corev1.SecretTypeTLS {
		return nil, invalid("%s: Secret %s/%s has type %q, want %q or %q",
			path, namespace, src.Name, s.Type, corev1.SecretTypeTLS, corev1.SecretTypeOpaque)
	}
	v, ok := data()
	if !ok {
		return nil, invalid("%s: %s %s/%s has no key %q", path, src.Kind, namespace, src.Name, src.Key)
	}
	return v, nil
}

// parseBundle checks that data is a PEM bundle of one or more certificates and
// nothing else, and returns it as a Bundle.
func parseBundle(data []byte, what string) (*Bundle, error) {
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, invalid("%s: unexpected PEM block %q, want only CERTIFICATE blocks", what, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, invalid("%s: certificate %d: %w", what, n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, invalid("%s: no PEM certificates found", what)
	}
	return &Bundle{pem: data, pool: pool}, nil
}

// IsTransient reports whether err, as returned by Load, may go away on retry.
func IsTransient(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Transient
}
