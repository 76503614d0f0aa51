// SPDX-License-Identifier: Apache-2.0

package csr

import (
	"context"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/concierge/clusterinfo"
)

// AvailableMessage is the strategy's message while it works.
const AvailableMessage = "the cluster's kubernetes.io/kube-apiserver-client signer issues certificates (at least 10 minutes long)"

// Strategy reports KubeCSRSigningCertificate: Success while the concierge may create and
// approve CSRs for the kube-apiserver-client signer and cluster-info names the API server.
func (i *Issuer) Strategy(ctx context.Context) configv1alpha1.CredentialIssuerStrategy {
	s := configv1alpha1.CredentialIssuerStrategy{Type: configv1alpha1.KubeCSRSigningCertificateStrategyType, Status: configv1alpha1.ErrorStrategyStatus}
	if missing := i.missingPermissions(ctx); len(missing) > 0 {
		s.Reason, s.Message = configv1alpha1.ErrorDuringSetupStrategyReason, "the concierge may not "+strings.Join(missing, ", ")
		return s
	}
	info, err := clusterinfo.Get(ctx, i.kube)
	if err != nil {
		s.Reason, s.Message = configv1alpha1.CouldNotGetClusterInfoStrategyReason, err.Error()
		return s
	}
	s.Status, s.Reason, s.Message = configv1alpha1.SuccessStrategyStatus, configv1alpha1.CSRSignerAvailableStrategyReason, AvailableMessage
	s.Frontend = info.Frontend()
	return s
}

// missingPermissions asks the API server which of the strategy's permissions the
// concierge lacks.
func (i *Issuer) missingPermissions(ctx context.Context) []string {
	checks := []authorizationv1.ResourceAttributes{
		{Group: certificatesv1.GroupName, Resource: "certificatesigningrequests", Verb: "create"},
		{Group: certificatesv1.GroupName, Resource: "certificatesigningrequests", Subresource: "approval", Verb: "update"},
		{Group: certificatesv1.GroupName, Resource: "signers", Name: certificatesv1.KubeAPIServerClientSignerName, Verb: "approve"},
	}
	var missing []string
	for _, attrs := range checks {
		review, err := i.kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attrs},
		}, metav1.CreateOptions{})
		if err != nil || !review.Status.Allowed {
			what := attrs.Verb + " " + attrs.Resource
			if attrs.Subresource != "" {
				what += "/" + attrs.Subresource
			}
			if attrs.Name != "" {
				what += " " + attrs.Name
			}
			if err != nil {
				what += fmt.Sprintf(" (%v)", err)
			}
			missing = append(missing, what)
		}
	}
	return missing
}
