// SPDX-License-Identifier: Apache-2.0

package webhook

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator/internal/testcond"
	"github.com/selkie-dev/selkie/pkg/internal/testtls"
)

func TestReconcile(t *testing.T) {
	t.Parallel()
	unknownRemote := []metav1.Condition{
		testcond.Unknown(v1alpha1.ConditionWebhookConnectionValid),
		testcond.Unknown(v1alpha1.ConditionAuthenticatorValid),
	}
	endpointBad := func(reason string) []metav1.Condition {
		return wantConditions(append([]metav1.Condition{testcond.False(v1alpha1.ConditionEndpointURLValid, reason)}, unknownRemote...)...)
	}
	tlsBad := wantConditions(append([]metav1.Condition{
		testcond.False(v1alpha1.ConditionTLSConfigurationValid, v1alpha1.ReasonInvalidTLSConfig)}, unknownRemote...)...)
	dialBad := wantConditions(
		testcond.False(v1alpha1.ConditionWebhookConnectionValid, v1alpha1.ReasonUnableToDialServer),
		testcond.Unknown(v1alpha1.ConditionAuthenticatorValid))
	otherCA := testtls.NewCA(t)
	stopped := otherCA.NewServer(t, nil)
	stopped.Close()

	tests := []struct {
		name    string
		spec    func(wh *testWebhook) v1alpha1.WebhookAuthenticatorSpec
		objects func(wh *testWebhook) []client.Object
		want    []metav1.Condition
		// wantMessage is a substring of the message of the first False condition.
		wantMessage string
		wantRequeue bool
	}{
		{
			name: "inline CA",
			spec: func(wh *testWebhook) v1alpha1.WebhookAuthenticatorSpec {
				return v1alpha1.WebhookAuthenticatorSpec{Endpoint: wh.url, TLS: inlineTLS(wh)}
			},
			want: wantConditions(),
		},
		{
			name: "CA from an Opaque Secret",
			spec: func(wh *testWebhook) v1alpha1.WebhookAuthenticatorSpec {
				return v1alpha1.WebhookAuthenticatorSpec{Endpoint: wh.url, TLS: sourceTLS("Secret", "ca", "bundle")}
			},
			objects: func(wh *testWebhook) []client.Object {
				return []client.Object{caSecret("ca", corev1.SecretTypeOpaque, map[string][]byte{"bundle": wh.ca.PEM()})}
			},
			want: wantConditions(),
		},
		{
			name: "CA from a TLS Secret",
			spec: func(wh *testWebhook) v1alpha1.WebhookAuthenticatorSpec {
				return v1alpha1.WebhookAuthenticatorSpec{Endpoint: wh.url, TLS: sourceTLS("Secret", "ca", "ca.crt")}
			},
			objects: func(wh *testWebhook) []client.Object {
				return []client.Object{caSecret("ca", corev1.SecretTypeTLS, map[string][]byte{"ca.crt": wh.ca.PEM()})}
			},
			want: wantConditions(),
		},
		{
			name: "CA from a ConfigMap",
			spec: func(wh *testWebhook) v1alpha1.WebhookAuthenticatorSpec {
				return v1alpha1.WebhookAuthenticatorSpec{Endpoint: wh.url, TLS: sourceTLS("ConfigMap", "ca", "ca.crt")}
			},
			objects: func(wh *testWebhook) []client.Object {
				return []client.Object{caConfigMap("ca", map[string]string{"ca.crt": string(wh.ca.PEM())})}
			},
			want: wantConditions(),
		},
		{
			name: "endpoint scheme is http",
			spec: func(wh *testWebhook) v1alpha1.WebhookAuthenticatorSpec {
				return v1alpha1.WebhookAuthenticatorSpec{Endpoint: "http" + strings.TrimPrefix(wh.url, "https"), TLS: inlineTLS(wh)}
			},
			want:        endpointBad(v1alpha1.ReasonInvalidEndpointURLScheme),
			wantMessage: "the scheme must be https",
		},
		{
			name: "endpoint is not a URL",
			spec: func(wh *testWebhook) v1alpha1.WebhookAuthenticatorSpec {
				return v1alpha1.WebhookAuthenticatorSpec{Endpoint: "https://[::1", TLS: inlineTLS(wh)}
			},
			want:        endpointBad(v1alpha1.ReasonInvalidEndpointURL),
			wantMessage: "spec.endpoint is not a valid URL",
		},
		{
			name: "endpoint without a host",
			spec: func(wh *testWebhook) v1alpha1.WebhookAuthenticatorSpec {
				return v1alpha1.WebhookAuthenticatorSpec{Endpoint: "https:///authenticate", TLS: inlineTLS(wh)}
			},
			want:        endpointBad(v1alpha1.ReasonInvalidEndpointURL),
			wantMessage: "has no host",
		},
		{
			name: "bad endpoint and bad TLS are both reported",
			spec: func(*testWebhook) v1alpha1.WebhookAuthenticatorSpec {
				return v1alpha1.WebhookAuthenticatorSpec{Endpoint: "http://x", TLS: &v1alpha1.TLSSpec{CertificateAuthorityData: "!"}}
			},
			want: wantConditions(append([]metav1.Condition{
				testcond.False(v1alpha1.ConditionEndpointURLValid, v1alpha1.ReasonInvalidEndpointURLScheme),
				testcond.False(v1alpha1.ConditionTLSConfigurationValid, v1alpha1.ReasonInvalidTLSConfig)}, unknownRemote...)...),
		},
		{
			name: "CA data is not PEM",
			spec: func(wh *testWebhook) v1alpha1.WebhookAuthenticatorSpec {
				return v1alpha1.WebhookAuthenticatorSpec{Endpoint: wh.url, TLS: &v1alpha1.TLSSpec{CertificateAuthorityData: "aGVsbG8="}}
			},
			want:        tlsBad,
			wantMessage: "no PEM certificates found",
		},
		{
			name: "CA ConfigMap missing",
			spec: func(wh *testWebhook) v1alpha1.WebhookAuthenticatorSpec {
				return v1alpha1.WebhookAuthenticatorSpec{Endpoint: wh.url, TLS: sourceTLS("ConfigMap", "ca", "ca.crt")}
			},
			want:        tlsBad,
			wantMessage: "ConfigMap selkie-concierge/ca not found",
		},
		{
			name: "CA Secret of the wrong type",
			spec: func(wh *testWebhook) v1alpha1.WebhookAuthenticatorSpec {
				return v1alpha1.WebhookAuthenticatorSpec{Endpoint: wh.url, TLS: sourceTLS("Secret", "ca", "ca.crt")}
			},
			objects: func(wh *testWebhook) []client.Object {
				return []client.Object{caSecret("ca", corev1.SecretTypeServiceAccountToken, map[string][]byte{"ca.crt": wh.ca.PEM()})}
			},
			want:        tlsBad,
			wantMessage: "has type",
		},
		{
			name: "untrusted server certificate",
			spec: func(wh *testWebhook) v1alpha1.WebhookAuthenticatorSpec {
				return v1alpha1.WebhookAuthenticatorSpec{Endpoint: wh.url, TLS: &v1alpha1.TLSSpec{CertificateAuthorityData: otherCA.Base64()}}
			},
			want:        dialBad,
			wantMessage: "certificate signed by unknown authority",
			wantRequeue: true,
		},
		{
			name: "server down",
			spec: func(*testWebhook) v1alpha1.WebhookAuthenticatorSpec {
				return v1alpha1.WebhookAuthenticatorSpec{Endpoint: stopped.URL, TLS: &v1alpha1.TLSSpec{CertificateAuthorityData: otherCA.Base64()}}
			},
			want:        dialBad,
			wantMessage: "cannot dial the webhook server",
			wantRequeue: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wh := newWebhook(t)
			objs := []client.Object{newWebhookAuthenticator(tc.spec(wh))}
			if tc.objects != nil {
				objs = append(objs, tc.objects(wh)...)
			}
			r := newReconciler(t, objs...)

			res := reconcileOnce(t, r)

			got := getWebhookAuthenticator(t, r)
			if diff := testcond.Diff(tc.want, got.Status.Conditions); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
			checkReadiness(t, r, got, tc.want)
			if tc.wantMessage != "" {
				if msg := testcond.FirstFalseMessage(got.Status.Conditions, tc.want); !strings.Contains(msg, tc.wantMessage) {
					t.Errorf("message %q does not contain %q", msg, tc.wantMessage)
				}
			}
			if gotRequeue := res.RequeueAfter > 0; gotRequeue != tc.wantRequeue {
				t.Errorf("requeue after %v, want requeue %v", res.RequeueAfter, tc.wantRequeue)
			}
		})
	}
}

// checkReadiness checks the phase, the Ready condition's message, the
// observed generations and the cache against the wanted conditions.
func checkReadiness(t *testing.T, r *Reconciler, got *v1alpha1.WebhookAuthenticator, want []metav1.Condition) {
	t.Helper()
	ready := testcond.Ready(want)
	wantPhase, wantMessage := v1alpha1.WebhookAuthenticatorPhaseError, v1alpha1.MessageUnableToValidate
	if ready {
		wantPhase, wantMessage = v1alpha1.WebhookAuthenticatorPhaseReady, "the WebhookAuthenticator is ready"
	}
	if got.Status.Phase != wantPhase {
		t.Errorf("phase = %q, want %q", got.Status.Phase, wantPhase)
	}
	if msg := testcond.Message(got.Status.Conditions, v1alpha1.ConditionReady); msg != wantMessage {
		t.Errorf("Ready message = %q, want %q", msg, wantMessage)
	}
	for _, c := range got.Status.Conditions {
		if c.ObservedGeneration != got.Generation {
			t.Errorf("%s observedGeneration = %d, want %d", c.Type, c.ObservedGeneration, got.Generation)
		}
		if !c.LastTransitionTime.Time.Equal(fixedNow()) {
			t.Errorf("%s lastTransitionTime = %v, want the reconciler's clock", c.Type, c.LastTransitionTime)
		}
		if c.Status == metav1.ConditionUnknown && c.Message != v1alpha1.MessageUnableToValidate {
			t.Errorf("%s message = %q", c.Type, c.Message)
		}
	}
	if _, ok := r.Cache.Get(cacheKey()); ok != ready {
		t.Errorf("in cache = %v, want %v", ok, ready)
	}
}
