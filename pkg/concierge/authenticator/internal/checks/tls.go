// SPDX-License-Identifier: Apache-2.0

package checks

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/tlsconfig"
)

// TLS returns the independent TLSConfigurationValid check of spec, which reads
// a referenced Secret or ConfigMap from namespace through r and, when it
// passes, sets *out to the loaded bundle.
func TLS(r client.Reader, namespace string, spec *authenticationv1alpha1.TLSSpec, out **tlsconfig.Bundle) Check {
	return Check{
		Type:        authenticationv1alpha1.ConditionTLSConfigurationValid,
		Success:     "spec.tls is valid",
		Independent: true,
		Run: func(ctx context.Context) (string, *Failure) {
			s := tlsconfig.FromConcierge(spec)
			b, err := tlsconfig.Load(ctx, r, namespace, "spec.tls", s)
			if err != nil {
				return "", &Failure{
					Reason:  authenticationv1alpha1.ReasonInvalidTLSConfig,
					Message: err.Error(),
					Retry:   tlsconfig.IsTransient(err),
				}
			}
			*out = b
			switch {
			case s.Source != nil:
				return fmt.Sprintf("spec.tls is valid: using the CA bundle in %s %s key %q",
					s.Source.Kind, s.Source.Name, s.Source.Key), nil
			case b.PEM() != nil:
				return "spec.tls is valid: using the CA bundle in certificateAuthorityData", nil
			default:
				return "spec.tls is valid: no CA bundle specified, using the system trust roots", nil
			}
		},
	}
}
