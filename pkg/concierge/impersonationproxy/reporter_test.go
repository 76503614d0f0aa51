// SPDX-License-Identifier: Apache-2.0

package impersonationproxy

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
)

func verifyPEM(certPEM []byte, roots *x509.CertPool) error {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return errors.New("not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return err
	}
	_, err = cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err
}

func TestReporterValues(t *testing.T) {
	t.Parallel()
	typ, errStatus := configv1alpha1.ImpersonationProxyStrategyType, configv1alpha1.ErrorStrategyStatus
	tests := []struct {
		name  string
		state state
		want  configv1alpha1.CredentialIssuerStrategy
	}{
		{name: "listening",
			state: state{reason: configv1alpha1.ListeningStrategyReason, message: configv1alpha1.ListeningStrategyMessage, endpoint: "https://127.0.0.1:8444", caPEM: []byte("CA")},
			want: configv1alpha1.CredentialIssuerStrategy{Type: typ, Status: configv1alpha1.SuccessStrategyStatus, Reason: "Listening",
				Message: "impersonation proxy is ready to accept client connections",
				Frontend: &configv1alpha1.CredentialIssuerFrontend{Type: configv1alpha1.ImpersonationProxyFrontendType,
					ImpersonationProxyInfo: &configv1alpha1.ImpersonationProxyInfo{Endpoint: "https://127.0.0.1:8444", CertificateAuthorityData: base64.StdEncoding.EncodeToString([]byte("CA"))}}}},
		{name: "disabled by configuration",
			state: state{reason: configv1alpha1.DisabledStrategyReason, message: configv1alpha1.DisabledByConfigurationStrategyMessage},
			want:  configv1alpha1.CredentialIssuerStrategy{Type: typ, Status: errStatus, Reason: "Disabled", Message: "impersonation proxy was explicitly disabled by configuration"}},
		{name: "disabled automatically",
			state: state{reason: configv1alpha1.DisabledStrategyReason, message: configv1alpha1.DisabledAutomaticallyStrategyMessage},
			want:  configv1alpha1.CredentialIssuerStrategy{Type: typ, Status: errStatus, Reason: "Disabled", Message: "automatically determined that impersonation proxy should be disabled"}},
		{name: "pending load balancer",
			state: state{reason: configv1alpha1.PendingStrategyReason, message: errPending.Error()},
			want:  configv1alpha1.CredentialIssuerStrategy{Type: typ, Status: errStatus, Reason: "Pending", Message: "waiting for load balancer Service to be assigned IP or hostname"}},
		{name: "error during setup",
			state: setupError(errors.New("listen tcp: address in use")),
			want:  configv1alpha1.CredentialIssuerStrategy{Type: typ, Status: errStatus, Reason: "ErrorDuringSetup", Message: "listen tcp: address in use"}},
		{name: "not synced yet", state: state{},
			want: configv1alpha1.CredentialIssuerStrategy{Type: typ, Status: errStatus, Reason: "Pending", Message: "impersonation proxy is being set up"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := NewController(Config{})
			c.state = tt.state
			close(c.synced)
			if diff := cmp.Diff(tt.want, Reporter{Controller: c}.Strategy(context.Background())); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
