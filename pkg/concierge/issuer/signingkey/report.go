// SPDX-License-Identifier: Apache-2.0

package signingkey

import (
	"context"

	"k8s.io/client-go/kubernetes"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/concierge/clusterinfo"
)

// Reporter reports the KubeClusterSigningCertificate strategy of an Issuer: Success with
// the cluster-info frontend while a key is loaded, else the reason it is not.
type Reporter struct {
	Issuer *Issuer
	Kube   kubernetes.Interface
}

// Strategy returns the strategy's current state (lastUpdateTime is the writer's job).
func (r Reporter) Strategy(ctx context.Context) configv1alpha1.CredentialIssuerStrategy {
	s := configv1alpha1.CredentialIssuerStrategy{Type: configv1alpha1.KubeClusterSigningCertificateStrategyType, Status: configv1alpha1.ErrorStrategyStatus}
	if err := r.Issuer.Status(); err != nil {
		s.Reason, s.Message = configv1alpha1.CouldNotFetchKeyStrategyReason, err.Error()
		return s
	}
	info, err := clusterinfo.Get(ctx, r.Kube)
	if err != nil {
		s.Reason, s.Message = configv1alpha1.CouldNotGetClusterInfoStrategyReason, err.Error()
		return s
	}
	s.Status, s.Reason, s.Message = configv1alpha1.SuccessStrategyStatus, configv1alpha1.FetchedKeyStrategyReason, configv1alpha1.FetchedKeyStrategyMessage
	s.Frontend = info.Frontend()
	return s
}
