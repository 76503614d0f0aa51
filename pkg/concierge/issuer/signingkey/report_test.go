// SPDX-License-Identifier: Apache-2.0

package signingkey

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/certauthority"
)

func TestReporter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	files, _, _ := newCAFiles(t)
	iss, err := New(files, certauthority.DefaultTTL, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	kube := fake.NewClientset()
	r := Reporter{Issuer: iss, Kube: kube}

	if s := r.Strategy(ctx); s.Status != configv1alpha1.ErrorStrategyStatus || s.Reason != configv1alpha1.CouldNotFetchKeyStrategyReason {
		t.Errorf("before a key is loaded: %+v", s)
	}
	if err := iss.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if s := r.Strategy(ctx); s.Reason != configv1alpha1.CouldNotGetClusterInfoStrategyReason || !strings.Contains(s.Message, "cluster-info") {
		t.Errorf("without cluster-info: %+v", s)
	}
	_, _ = kube.CoreV1().ConfigMaps("kube-public").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-public", Name: "cluster-info"},
		Data:       map[string]string{"kubeconfig": "apiVersion: v1\nkind: Config\nclusters:\n- name: ''\n  cluster: {server: 'https://127.0.0.1:6443', certificate-authority-data: Zm9v}\n"},
	}, metav1.CreateOptions{})
	s := r.Strategy(ctx)
	if s.Status != configv1alpha1.SuccessStrategyStatus || s.Reason != configv1alpha1.FetchedKeyStrategyReason || s.Message != "key was fetched successfully" ||
		s.Frontend == nil || s.Frontend.Type != configv1alpha1.TokenCredentialRequestAPIFrontendType ||
		s.Frontend.TokenCredentialRequestInfo.Server != "https://127.0.0.1:6443" || s.Frontend.TokenCredentialRequestInfo.CertificateAuthorityData != "Zm9v" {
		t.Errorf("with a key and cluster-info: %+v %+v", s, s.Frontend)
	}
}
