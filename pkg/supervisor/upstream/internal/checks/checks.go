// SPDX-License-Identifier: Apache-2.0

// Package checks holds the checks every identity-provider kind runs: its credentials
// Secret and its TLS trust, reported as conditions in an engine.Validation.
package checks

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/internal/engine"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
	"github.com/selkie-dev/selkie/pkg/tlsconfig"
)

// Validation is the outcome of checking one identity provider.
type Validation = engine.Validation[upstream.Provider]

// Current is the provider the engine stored for an identity provider.
type Current = engine.Current[upstream.Provider]

// NewValidation returns an empty, OK Validation.
func NewValidation() *Validation { return engine.NewValidation[upstream.Provider]() }

// SecretCheck describes the Secret a resource names for its credentials.
type SecretCheck struct {
	// Condition is the condition type reporting on the Secret.
	Condition string
	// Purpose names the Secret in errors ("client" gives "get client Secret").
	Purpose string
	// Types are the accepted Secret types.
	Types []string
	// Keys are the two required data keys (e.g. client ID and secret).
	Keys [2]string
	// Loaded is the message of the True condition.
	Loaded string
}

// CheckSecret checks the Secret name of namespace as sc describes and returns the values
// of its two keys. It returns an error only when reading the Secret failed transiently.
func CheckSecret(ctx context.Context, c client.Reader, v *Validation, namespace, name string, sc SecretCheck) (string, string, error) {
	secret := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, secret); err != nil {
		if !apierrors.IsNotFound(err) {
			return "", "", fmt.Errorf("get %s Secret %q: %w", sc.Purpose, name, err)
		}
		v.Add(sc.Condition, false, idpv1alpha1.ReasonSecretNotFound, fmt.Sprintf("secret %q not found", name))
		return "", "", nil
	}
	if !slices.Contains(sc.Types, string(secret.Type)) {
		quoted := make([]string, len(sc.Types))
		for i, t := range sc.Types {
			quoted[i] = fmt.Sprintf("%q", t)
		}
		v.Add(sc.Condition, false, idpv1alpha1.ReasonSecretWrongType, fmt.Sprintf("referenced Secret %q has wrong type %q (should be %s)",
			name, secret.Type, strings.Join(quoted, " or ")))
		return "", "", nil
	}
	a, b := secret.Data[sc.Keys[0]], secret.Data[sc.Keys[1]]
	if len(a) == 0 || len(b) == 0 {
		v.Add(sc.Condition, false, idpv1alpha1.ReasonSecretMissingKeys, fmt.Sprintf("referenced Secret %q is missing required keys %q",
			name, sc.Keys[:]))
		return "", "", nil
	}
	v.Add(sc.Condition, true, idpv1alpha1.ReasonSuccess, sc.Loaded)
	return string(a), string(b), nil
}

// CheckTLS loads the TLS spec s found at path (e.g. "spec.tls") and adds
// TLSConfigurationValid; it returns a nil bundle when the spec is invalid, and an error
// only when reading a CA source failed transiently.
func CheckTLS(ctx context.Context, c client.Reader, v *Validation, namespace, path string, s *idpv1alpha1.TLSSpec) (*tlsconfig.Bundle, error) {
	const typ = idpv1alpha1.ConditionTLSConfigurationValid
	bundle, err := tlsconfig.Load(ctx, c, namespace, path, TLSSpec(s))
	switch {
	case tlsconfig.IsTransient(err):
		return nil, err
	case err != nil:
		v.Add(typ, false, idpv1alpha1.ReasonInvalidTLSConfig, err.Error())
		return nil, nil
	case bundle.PEM() == nil:
		v.Add(typ, true, idpv1alpha1.ReasonSuccess, path+" is valid: using the system trust roots")
	default:
		v.Add(typ, true, idpv1alpha1.ReasonSuccess, path+" is valid: using the configured CA bundle")
	}
	return bundle, nil
}

// TLSSpec converts a TLS spec to the kind-neutral form; nil means the system roots.
func TLSSpec(s *idpv1alpha1.TLSSpec) tlsconfig.Spec {
	if s == nil {
		return tlsconfig.Spec{}
	}
	out := tlsconfig.Spec{CertificateAuthorityData: s.CertificateAuthorityData}
	if src := s.CertificateAuthorityDataSource; src != nil {
		out.Source = &tlsconfig.Source{Kind: string(src.Kind), Name: src.Name, Key: src.Key}
	}
	return out
}
