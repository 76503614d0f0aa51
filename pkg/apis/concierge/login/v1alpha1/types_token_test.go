// SPDX-License-Identifier: Apache-2.0

package v1alpha1_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	loginv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/login/v1alpha1"
)

// The examples of the docs/wire-contract.md §1.4, verbatim except for the elided token
// and PEM bodies.
const (
	contractRequest = `{"kind":"TokenCredentialRequest","apiVersion":"login.concierge.selkie.dev/v1alpha1","metadata":{"creationTimestamp":null},
 "spec":{"token":"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyMSJ9.c2ln",
  "authenticator":{"apiGroup":"authentication.concierge.selkie.dev","kind":"JWTAuthenticator","name":"supervisor"}},"status":{}}`

	contractSuccess = `{"kind":"TokenCredentialRequest","apiVersion":"login.concierge.selkie.dev/v1alpha1","metadata":{"creationTimestamp":null},
 "spec":{"authenticator":{"apiGroup":null,"kind":"","name":""}},
 "status":{"credential":{"expirationTimestamp":"2025-06-01T12:05:00Z",
  "clientCertificateData":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
  "clientKeyData":"-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n"}}}`

	contractFailure = `{"kind":"TokenCredentialRequest","apiVersion":"login.concierge.selkie.dev/v1alpha1","metadata":{"creationTimestamp":null},
 "spec":{"authenticator":{"apiGroup":null,"kind":"","name":""}},
 "status":{"message":"authentication failed"}}`
)

func ptr[T any](v T) *T { return &v }

func typeMeta() metav1.TypeMeta {
	return metav1.TypeMeta{Kind: "TokenCredentialRequest", APIVersion: loginv1alpha1.SchemeGroupVersion.String()}
}

// TestTokenCredentialRequestJSON checks that the Go types produce exactly the JSON
// of the contract's examples and decode them without loss.
func TestTokenCredentialRequestJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		obj  *loginv1alpha1.TokenCredentialRequest
		json string
	}{
		{
			name: "request",
			obj: &loginv1alpha1.TokenCredentialRequest{
				TypeMeta: typeMeta(),
				Spec: loginv1alpha1.TokenCredentialRequestSpec{
					Token: "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyMSJ9.c2ln",
					Authenticator: corev1.TypedLocalObjectReference{
						APIGroup: ptr("authentication.concierge.selkie.dev"),
						Kind:     "JWTAuthenticator",
						Name:     "supervisor",
					},
				},
			},
			json: contractRequest,
		},
		{
			name: "success",
			obj: &loginv1alpha1.TokenCredentialRequest{
				TypeMeta: typeMeta(),
				Status: loginv1alpha1.TokenCredentialRequestStatus{
					Credential: &loginv1alpha1.ClusterCredential{
						ExpirationTimestamp:   metav1.NewTime(time.Date(2025, 6, 1, 12, 5, 0, 0, time.UTC)),
						ClientCertificateData: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
						ClientKeyData:         "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n",
					},
				},
			},
			json: contractSuccess,
		},
		{
			name: "failure",
			obj: &loginv1alpha1.TokenCredentialRequest{
				TypeMeta: typeMeta(),
				Status:   loginv1alpha1.TokenCredentialRequestStatus{Message: ptr("authentication failed")},
			},
			json: contractFailure,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			encoded, err := json.Marshal(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(normalize(t, []byte(tc.json)), normalize(t, encoded)); diff != "" {
				t.Errorf("encoded JSON (-contract +got):\n%s", diff)
			}

			decoded := &loginv1alpha1.TokenCredentialRequest{}
			dec := json.NewDecoder(bytes.NewReader([]byte(tc.json)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(decoded); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.obj, decoded); diff != "" {
				t.Errorf("decoded object (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAuthenticatorKeysAlwaysEmitted pins the TypedLocalObjectReference semantics:
// apiGroup, kind and name are serialized even when empty.
func TestAuthenticatorKeysAlwaysEmitted(t *testing.T) {
	t.Parallel()
	encoded, err := json.Marshal(loginv1alpha1.TokenCredentialRequestSpec{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"authenticator":{"apiGroup":null,"kind":"","name":""}}`; string(encoded) != want {
		t.Errorf("empty spec = %s, want %s", encoded, want)
	}
}

// normalize decodes JSON into generic values and drops a null
// metadata.creationTimestamp: the contract's examples come from an apimachinery
// that serialized the zero time as null, current versions omit it, and clients
// treat both alike.
func normalize(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	out := map[string]any{}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%v in %s", err, raw)
	}
	if md, ok := out["metadata"].(map[string]any); ok {
		if ts, present := md["creationTimestamp"]; present && ts == nil {
			delete(md, "creationTimestamp")
		}
	}
	return out
}
