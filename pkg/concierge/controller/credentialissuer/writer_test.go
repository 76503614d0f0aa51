// SPDX-License-Identifier: Apache-2.0

package credentialissuer

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/selkie-dev/selkie/generated/client/concierge/clientset/versioned/fake"
	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
)

type fixed configv1alpha1.CredentialIssuerStrategy

func (f *fixed) Strategy(context.Context) configv1alpha1.CredentialIssuerStrategy {
	return configv1alpha1.CredentialIssuerStrategy(*f)
}

func TestWriter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := fake.NewSimpleClientset()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	signing := &fixed{Type: configv1alpha1.KubeClusterSigningCertificateStrategyType, Status: configv1alpha1.SuccessStrategyStatus,
		Reason: configv1alpha1.FetchedKeyStrategyReason, Message: configv1alpha1.FetchedKeyStrategyMessage}
	other := &fixed{Type: "ZZZ", Status: configv1alpha1.ErrorStrategyStatus, Reason: "X", Message: "x"}
	proxy := &fixed{Type: configv1alpha1.ImpersonationProxyStrategyType, Status: configv1alpha1.ErrorStrategyStatus,
		Reason: configv1alpha1.DisabledStrategyReason, Message: configv1alpha1.DisabledByConfigurationStrategyMessage}
	csr := &fixed{Type: configv1alpha1.KubeCSRSigningCertificateStrategyType, Status: configv1alpha1.SuccessStrategyStatus,
		Reason: configv1alpha1.CSRSignerAvailableStrategyReason, Message: "m"}
	w := &Writer{Client: client, Name: "selkie-concierge-config", Reporters: []Reporter{other, proxy, csr, signing},
		Clock: func() time.Time { return now }, Log: slog.New(slog.DiscardHandler)}

	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	ci, err := client.ConfigV1alpha1().CredentialIssuers().Get(ctx, "selkie-concierge-config", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("CredentialIssuer not created: %v", err)
	}
	var order []configv1alpha1.StrategyType
	for _, s := range ci.Status.Strategies {
		order = append(order, s.Type)
		if !s.LastUpdateTime.Time.Equal(now) {
			t.Errorf("%s lastUpdateTime = %s, want %s", s.Type, s.LastUpdateTime, now)
		}
	}
	want := []configv1alpha1.StrategyType{"KubeClusterSigningCertificate", "KubeCSRSigningCertificate", "ImpersonationProxy", "ZZZ"}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("strategy order (-want +got):\n%s", diff)
	}
	if ci.Spec.ImpersonationProxy == nil || ci.Spec.ImpersonationProxy.Mode != configv1alpha1.ImpersonationProxyModeAuto {
		t.Errorf("spec = %+v, want the install defaults", ci.Spec)
	}

	// Later: only the strategy whose state changed gets a new lastUpdateTime.
	now = now.Add(time.Hour)
	signing.Status, signing.Reason, signing.Message = configv1alpha1.ErrorStrategyStatus, configv1alpha1.CouldNotFetchKeyStrategyReason, "gone"
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	ci, _ = client.ConfigV1alpha1().CredentialIssuers().Get(ctx, "selkie-concierge-config", metav1.GetOptions{})
	for _, s := range ci.Status.Strategies {
		changed := s.Type == configv1alpha1.KubeClusterSigningCertificateStrategyType
		if got := s.LastUpdateTime.Time.Equal(now); got != changed {
			t.Errorf("%s lastUpdateTime = %s; changed=%v", s.Type, s.LastUpdateTime, changed)
		}
	}
	if s := ci.Status.Strategies[0]; s.Reason != configv1alpha1.CouldNotFetchKeyStrategyReason || s.Message != "gone" {
		t.Errorf("first strategy = %+v", s)
	}
}

func TestWriterConfiguredSpec(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := fake.NewSimpleClientset()
	cis := client.ConfigV1alpha1().CredentialIssuers()
	spec, err := ParseSpec(`{"impersonationProxy":{"mode":"enabled","service":{"type":"ClusterIP"}}}`)
	if err != nil {
		t.Fatal(err)
	}
	w := &Writer{Client: client, Name: "ci", Spec: spec, Clock: time.Now, Log: slog.New(slog.DiscardHandler)}
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	ci, err := cis.Get(ctx, "ci", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(*spec, ci.Spec); diff != "" {
		t.Errorf("created spec (-want +got):\n%s", diff)
	}
	if ci.Annotations[SpecHashAnnotation] == "" {
		t.Errorf("annotations = %v, want %s", ci.Annotations, SpecHashAnnotation)
	}

	// A hand edit lasts while the configured spec is unchanged.
	ci.Spec.ImpersonationProxy.Mode = configv1alpha1.ImpersonationProxyModeDisabled
	if _, err := cis.Update(ctx, ci, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	ci, _ = cis.Get(ctx, "ci", metav1.GetOptions{})
	if got := ci.Spec.ImpersonationProxy.Mode; got != configv1alpha1.ImpersonationProxyModeDisabled {
		t.Errorf("after a hand edit and an unchanged configuration, mode = %s, want disabled", got)
	}

	// A new configured spec (an upgrade with new values) replaces it.
	w.Spec, err = ParseSpec(`{"impersonationProxy":{"mode":"auto","service":{"type":"LoadBalancer","loadBalancerIP":"198.18.16.10"}}}`)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	ci, _ = cis.Get(ctx, "ci", metav1.GetOptions{})
	if diff := cmp.Diff(*w.Spec, ci.Spec); diff != "" {
		t.Errorf("spec after the configuration changed (-want +got):\n%s", diff)
	}

	// Without a configured spec an existing object's spec is left alone.
	w.Spec = nil
	ci.Spec.ImpersonationProxy.Mode = configv1alpha1.ImpersonationProxyModeDisabled
	if _, err := cis.Update(ctx, ci, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	ci, _ = cis.Get(ctx, "ci", metav1.GetOptions{})
	if got := ci.Spec.ImpersonationProxy.Mode; got != configv1alpha1.ImpersonationProxyModeDisabled {
		t.Errorf("without a configured spec, mode = %s, want the hand-set disabled", got)
	}
}

func TestParseSpec(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, wantErr string
	}{
		{in: `{"impersonationProxy":{"mode":"auto"}}`},
		{in: `{"impersonationProxy":{"mode":"enabled","service":{"type":"None"},"externalEndpoint":"proxy.example:443"}}`},
		{in: `{"impersonationProxy":{"mode":"disabled","service":{"type":"None"}}}`},
		{in: ``, wantErr: "CredentialIssuer spec: EOF"},
		{in: `{}`, wantErr: "impersonationProxy is required"},
		{in: `{"impersonationProxy":{"mode":"on"}}`, wantErr: `mode "on" is not auto, enabled or disabled`},
		{in: `{"impersonationProxy":{"mode":"auto","servce":{}}}`, wantErr: `unknown field "servce"`},
		{in: `{"impersonationProxy":{"mode":"auto","service":{"type":"NodePort"}}}`, wantErr: `service.type "NodePort" is not`},
		{in: `{"impersonationProxy":{"mode":"auto","service":{"type":"None"}}}`, wantErr: "externalEndpoint is required"},
		{in: `{"impersonationProxy":{"mode":"auto"}} {}`, wantErr: "trailing data"},
	} {
		spec, err := ParseSpec(tc.in)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("ParseSpec(%s): %v", tc.in, err)
		case tc.wantErr == "" && spec.ImpersonationProxy.Service.Type == "":
			t.Errorf("ParseSpec(%s): service.type left empty, want the LoadBalancer default", tc.in)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ParseSpec(%s) error = %v, want one containing %q", tc.in, err, tc.wantErr)
		}
	}
}

// TestRunSyncsOnChanged: a strategy whose state changed is written at once, not a period
// later. Fake time (testing/synctest) shows Run would otherwise wait the hour.
func TestRunSyncsOnChanged(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		client := fake.NewSimpleClientset()
		signing := &fixed{Type: configv1alpha1.KubeClusterSigningCertificateStrategyType, Status: configv1alpha1.ErrorStrategyStatus,
			Reason: configv1alpha1.CouldNotFetchKeyStrategyReason, Message: "not yet"}
		changed := make(chan struct{}, 1)
		w := &Writer{Client: client, Name: "ci", Reporters: []Reporter{signing}, Clock: time.Now,
			Log: slog.New(slog.DiscardHandler), Changed: changed}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go w.Run(ctx, time.Hour)
		synctest.Wait()
		signing.Status = configv1alpha1.SuccessStrategyStatus
		changed <- struct{}{}
		synctest.Wait()
		ci, err := client.ConfigV1alpha1().CredentialIssuers().Get(ctx, "ci", metav1.GetOptions{})
		if err != nil || len(ci.Status.Strategies) != 1 || ci.Status.Strategies[0].Status != configv1alpha1.SuccessStrategyStatus {
			t.Errorf("after Changed, with an hour's period: %+v, %v; want the strategy's success written", ci.Status.Strategies, err)
		}
	})
}
