// SPDX-License-Identifier: Apache-2.0

package jwt

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator/internal/testcond"
	"github.com/selkie-dev/selkie/pkg/internal/testtls"
)

func inlineTLS(is *testIssuer) *v1alpha1.TLSSpec {
	return &v1alpha1.TLSSpec{CertificateAuthorityData: is.ca.Base64()}
}

func sourceTLS(kind v1alpha1.CertificateAuthorityDataSourceKind, name, key string) *v1alpha1.TLSSpec {
	return &v1alpha1.TLSSpec{CertificateAuthorityDataSource: &v1alpha1.CertificateAuthorityDataSourceSpec{
		Kind: kind, Name: name, Key: key,
	}}
}

// reconcileCase is one JWTAuthenticator reconciled once against a fresh issuer.
type reconcileCase struct {
	name    string
	issuer  issuerOptions
	spec    func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec
	objects func(is *testIssuer) []client.Object
	want    []metav1.Condition
	// wantMessage is a substring of the message of the first False condition.
	wantMessage string
	wantRequeue bool
}

// unknownRemote are the conditions of the checks skipped after an earlier failure.
func unknownRemote() []metav1.Condition {
	return []metav1.Condition{
		testcond.Unknown(v1alpha1.ConditionDiscoveryURLValid),
		testcond.Unknown(v1alpha1.ConditionJWKSURLValid),
		testcond.Unknown(v1alpha1.ConditionJWKSFetchValid),
		testcond.Unknown(v1alpha1.ConditionAuthenticatorValid),
	}
}

func issuerBad(reason string) []metav1.Condition {
	return wantConditions(append([]metav1.Condition{testcond.False(v1alpha1.ConditionIssuerURLValid, reason)}, unknownRemote()...)...)
}

func tlsBad() []metav1.Condition {
	return wantConditions(append([]metav1.Condition{
		testcond.False(v1alpha1.ConditionTLSConfigurationValid, v1alpha1.ReasonInvalidTLSConfig)}, unknownRemote()...)...)
}

func discoveryBad() []metav1.Condition {
	return wantConditions(
		testcond.False(v1alpha1.ConditionDiscoveryURLValid, v1alpha1.ReasonInvalidDiscoveryProbe),
		testcond.Unknown(v1alpha1.ConditionJWKSURLValid),
		testcond.Unknown(v1alpha1.ConditionJWKSFetchValid),
		testcond.Unknown(v1alpha1.ConditionAuthenticatorValid))
}

func jwksURLBad(reason string) []metav1.Condition {
	return wantConditions(
		testcond.False(v1alpha1.ConditionJWKSURLValid, reason),
		testcond.Unknown(v1alpha1.ConditionJWKSFetchValid),
		testcond.Unknown(v1alpha1.ConditionAuthenticatorValid))
}

func jwksFetchBad() []metav1.Condition {
	return wantConditions(
		testcond.False(v1alpha1.ConditionJWKSFetchValid, v1alpha1.ReasonInvalidCouldNotFetchJWKS),
		testcond.Unknown(v1alpha1.ConditionAuthenticatorValid))
}

// issuerCases cover spec.issuer.
func issuerCases() []reconcileCase {
	return []reconcileCase{
		{
			name: "inline CA",
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience, TLS: inlineTLS(is)}
			},
			want: wantConditions(),
		},
		{
			name:   "issuer with a path and a trailing slash",
			issuer: issuerOptions{issuerPath: "/some/path/"},
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience, TLS: inlineTLS(is)}
			},
			want: wantConditions(),
		},
		{
			name: "issuer scheme is http",
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: "http" + strings.TrimPrefix(is.url, "https"), Audience: testAudience, TLS: inlineTLS(is)}
			},
			want:        issuerBad(v1alpha1.ReasonInvalidIssuerURLScheme),
			wantMessage: "the scheme must be https",
		},
		{
			name: "issuer is not a URL",
			spec: func(*testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: "https://[::1", Audience: testAudience}
			},
			want:        issuerBad(v1alpha1.ReasonInvalidIssuerURL),
			wantMessage: "spec.issuer is not a valid URL",
		},
		{
			name: "issuer with a query",
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url + "?tenant=1", Audience: testAudience, TLS: inlineTLS(is)}
			},
			want:        issuerBad(v1alpha1.ReasonInvalidIssuerURLContainsQueryParams),
			wantMessage: "must not include a query",
		},
		{
			name: "issuer with a fragment",
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url + "#frag", Audience: testAudience, TLS: inlineTLS(is)}
			},
			want:        issuerBad(v1alpha1.ReasonInvalidIssuerURLContainsFragment),
			wantMessage: "must not include a fragment",
		},
		{
			name: "issuer with the discovery path",
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url + "/.well-known/openid-configuration", Audience: testAudience, TLS: inlineTLS(is)}
			},
			want:        issuerBad(v1alpha1.ReasonInvalidIssuerURLContainsWellKnownEndpoint),
			wantMessage: "/.well-known/openid-configuration",
		},
		{
			name: "bad issuer and bad TLS are both reported",
			spec: func(*testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: "http://x", Audience: testAudience, TLS: &v1alpha1.TLSSpec{CertificateAuthorityData: "!"}}
			},
			want: wantConditions(append([]metav1.Condition{
				testcond.False(v1alpha1.ConditionIssuerURLValid, v1alpha1.ReasonInvalidIssuerURLScheme),
				testcond.False(v1alpha1.ConditionTLSConfigurationValid, v1alpha1.ReasonInvalidTLSConfig)}, unknownRemote()...)...),
		},
	}
}

// tlsCases cover spec.tls and the objects it names.
func tlsCases() []reconcileCase {
	return []reconcileCase{
		{
			name: "CA from an Opaque Secret",
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience, TLS: sourceTLS("Secret", "ca", "bundle")}
			},
			objects: func(is *testIssuer) []client.Object {
				return []client.Object{caSecret("ca", corev1.SecretTypeOpaque, map[string][]byte{"bundle": is.ca.PEM()})}
			},
			want: wantConditions(),
		},
		{
			name: "CA from a TLS Secret",
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience, TLS: sourceTLS("Secret", "ca", "ca.crt")}
			},
			objects: func(is *testIssuer) []client.Object {
				return []client.Object{caSecret("ca", corev1.SecretTypeTLS, map[string][]byte{"ca.crt": is.ca.PEM()})}
			},
			want: wantConditions(),
		},
		{
			name: "CA from a ConfigMap",
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience, TLS: sourceTLS("ConfigMap", "ca", "ca.crt")}
			},
			objects: func(is *testIssuer) []client.Object {
				return []client.Object{caConfigMap("ca", map[string]string{"ca.crt": string(is.ca.PEM())})}
			},
			want: wantConditions(),
		},
		{
			name: "CA data is not base64",
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience, TLS: &v1alpha1.TLSSpec{CertificateAuthorityData: "not base64!"}}
			},
			want:        tlsBad(),
			wantMessage: "spec.tls.certificateAuthorityData is not valid base64",
		},
		{
			name: "CA data is not PEM",
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience, TLS: &v1alpha1.TLSSpec{CertificateAuthorityData: "aGVsbG8="}}
			},
			want:        tlsBad(),
			wantMessage: "no PEM certificates found",
		},
		{
			name: "both CA data and a CA source",
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				tls := sourceTLS("Secret", "ca", "ca.crt")
				tls.CertificateAuthorityData = is.ca.Base64()
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience, TLS: tls}
			},
			want:        tlsBad(),
			wantMessage: "mutually exclusive",
		},
		{
			name: "CA Secret missing",
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience, TLS: sourceTLS("Secret", "ca", "ca.crt")}
			},
			want:        tlsBad(),
			wantMessage: "Secret selkie-concierge/ca not found",
		},
		{
			name: "CA Secret of the wrong type",
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience, TLS: sourceTLS("Secret", "ca", "ca.crt")}
			},
			objects: func(is *testIssuer) []client.Object {
				return []client.Object{caSecret("ca", corev1.SecretTypeDockerConfigJson, map[string][]byte{"ca.crt": is.ca.PEM()})}
			},
			want:        tlsBad(),
			wantMessage: `has type "kubernetes.io/dockerconfigjson"`,
		},
		{
			name: "CA Secret without the key",
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience, TLS: sourceTLS("Secret", "ca", "ca.crt")}
			},
			objects: func(is *testIssuer) []client.Object {
				return []client.Object{caSecret("ca", corev1.SecretTypeOpaque, map[string][]byte{"other": is.ca.PEM()})}
			},
			want:        tlsBad(),
			wantMessage: `has no key "ca.crt"`,
		},
		{
			name: "CA ConfigMap with an empty bundle",
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience, TLS: sourceTLS("ConfigMap", "ca", "ca.crt")}
			},
			objects: func(*testIssuer) []client.Object {
				return []client.Object{caConfigMap("ca", map[string]string{"ca.crt": ""})}
			},
			want:        tlsBad(),
			wantMessage: "no PEM certificates found",
		},
		{
			name: "CA in another namespace is not used",
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience, TLS: sourceTLS("ConfigMap", "ca", "ca.crt")}
			},
			objects: func(is *testIssuer) []client.Object {
				cm := caConfigMap("ca", map[string]string{"ca.crt": string(is.ca.PEM())})
				cm.Namespace = "default"
				return []client.Object{cm}
			},
			want:        tlsBad(),
			wantMessage: "ConfigMap selkie-concierge/ca not found",
		},
	}
}

// remoteCases cover what the issuer serves.
func remoteCases(otherCA *testtls.CA) []reconcileCase {
	return []reconcileCase{
		{
			name: "untrusted issuer certificate",
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience,
					TLS: &v1alpha1.TLSSpec{CertificateAuthorityData: otherCA.Base64()}}
			},
			want:        discoveryBad(),
			wantMessage: "certificate signed by unknown authority",
			wantRequeue: true,
		},
		{
			name:   "discovery not found",
			issuer: issuerOptions{discoveryStatus: 404},
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience, TLS: inlineTLS(is)}
			},
			want:        discoveryBad(),
			wantMessage: "404 Not Found",
			wantRequeue: true,
		},
		{
			name:   "discovery names another issuer",
			issuer: issuerOptions{docIssuer: func(string) string { return "https://elsewhere.example.com" }},
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience, TLS: inlineTLS(is)}
			},
			want:        discoveryBad(),
			wantMessage: `names issuer "https://elsewhere.example.com"`,
			wantRequeue: true,
		},
		{
			name:   "jwks_uri is http",
			issuer: issuerOptions{jwksURI: func(u string) string { return "http" + strings.TrimPrefix(u, "https") + "/jwks.json" }},
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience, TLS: inlineTLS(is)}
			},
			want:        jwksURLBad(v1alpha1.ReasonInvalidProviderJWKSURLScheme),
			wantMessage: "the scheme must be https",
			wantRequeue: true,
		},
		{
			name:   "jwks_uri missing",
			issuer: issuerOptions{jwksURI: func(string) string { return "" }},
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience, TLS: inlineTLS(is)}
			},
			want:        jwksURLBad(v1alpha1.ReasonInvalidProviderJWKSURL),
			wantMessage: "no jwks_uri",
			wantRequeue: true,
		},
		{
			name:   "JWKS fetch fails",
			issuer: issuerOptions{jwksStatus: 500, jwksBody: "oops"},
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience, TLS: inlineTLS(is)}
			},
			want:        jwksFetchBad(),
			wantMessage: "500 Internal Server Error",
			wantRequeue: true,
		},
		{
			name:   "JWKS is not JSON",
			issuer: issuerOptions{jwksBody: "<html>"},
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience, TLS: inlineTLS(is)}
			},
			want:        jwksFetchBad(),
			wantMessage: "could not fetch the JWKS: decode response",
			wantRequeue: true,
		},
		{
			// Kubernetes refuses issuer URLs with user info, which only the
			// authenticator construction checks.
			name:   "authenticator cannot be built",
			issuer: issuerOptions{docIssuer: withUserInfo},
			spec: func(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
				return v1alpha1.JWTAuthenticatorSpec{Issuer: withUserInfo(is.url), Audience: testAudience, TLS: inlineTLS(is)}
			},
			want:        wantConditions(testcond.False(v1alpha1.ConditionAuthenticatorValid, v1alpha1.ReasonInvalidAuthenticator)),
			wantMessage: "must not contain a username or password",
		},
	}
}

func TestReconcile(t *testing.T) {
	t.Parallel()
	tests := slices.Concat(issuerCases(), tlsCases(), remoteCases(testtls.NewCA(t)))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			is := newIssuer(t, tc.issuer)
			objs := []client.Object{newJWTAuthenticator(tc.spec(is))}
			if tc.objects != nil {
				objs = append(objs, tc.objects(is)...)
			}
			r := newReconciler(t, objs...)

			res := reconcileOnce(t, r)

			got := getJWTAuthenticator(t, r)
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

func withUserInfo(u string) string { return strings.Replace(u, "https://", "https://user@", 1) }

// checkReadiness checks the phase, the Ready condition's message, the
// observed generations and the cache against the wanted conditions.
func checkReadiness(t *testing.T, r *Reconciler, got *v1alpha1.JWTAuthenticator, want []metav1.Condition) {
	t.Helper()
	ready := testcond.Ready(want)
	wantPhase, wantMessage := v1alpha1.JWTAuthenticatorPhaseError, v1alpha1.MessageUnableToValidate
	if ready {
		wantPhase, wantMessage = v1alpha1.JWTAuthenticatorPhaseReady, "the JWTAuthenticator is ready"
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
