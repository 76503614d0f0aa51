// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/selkie-dev/selkie/pkg/certauthority"
)

const originalUserHeader = "Impersonate-Extra-Original-User-Info.impersonation-Proxy.concierge.pinniped.dev"

// allowImpersonating is allowAll plus impersonation of anything.
func allowImpersonating(authorizationv1.SubjectAccessReviewSpec) (bool, string) { return true, "" }

func credentialID(t *testing.T, kp *certauthority.KeyPair) string {
	t.Helper()
	block, _ := pem.Decode(kp.CertPEM)
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(block.Bytes)
	return "X509SHA256=" + hex.EncodeToString(sum[:])
}

func TestNestedImpersonation(t *testing.T) {
	t.Parallel()
	saInfo := authenticationv1.UserInfo{Username: "system:serviceaccount:ns:sa", UID: "sa-uid", Groups: []string{"system:serviceaccounts", "system:authenticated"}}
	tests := []struct {
		name       string
		authorize  policy
		asSA       bool // authenticate with a ServiceAccount token instead of alice's certificate
		header     http.Header
		wantStatus int
		wantBody   string
		want       http.Header // forwarded impersonation headers, without original-user-info
	}{
		{
			name: "denied without impersonate permission", authorize: allowAll,
			header:     http.Header{"Impersonate-User": {"admin"}},
			wantStatus: http.StatusForbidden, wantBody: "decision made by impersonation-proxy.concierge.selkie.dev",
		},
		{
			name: "user", authorize: allowImpersonating, header: http.Header{"Impersonate-User": {"admin"}},
			wantStatus: http.StatusOK,
			want:       http.Header{"Authorization": {"Bearer " + proxyToken}, "Impersonate-User": {"admin"}, "Impersonate-Group": {"system:authenticated"}},
		},
		{
			name: "user, groups and extras", authorize: allowImpersonating,
			header:     http.Header{"Impersonate-User": {"admin"}, "Impersonate-Group": {"ops"}, "Impersonate-Extra-Scopes": {"a", "b"}},
			wantStatus: http.StatusOK,
			want: http.Header{"Authorization": {"Bearer " + proxyToken}, "Impersonate-User": {"admin"},
				"Impersonate-Group": {"ops", "system:authenticated"}, "Impersonate-Extra-Scopes": {"a", "b"}},
		},
		{
			name: "a ServiceAccount impersonating a user", authorize: allowImpersonating, asSA: true,
			header:     http.Header{"Impersonate-User": {"eve"}},
			wantStatus: http.StatusOK,
			want:       http.Header{"Authorization": {"Bearer " + proxyToken}, "Impersonate-User": {"eve"}, "Impersonate-Group": {"system:authenticated"}},
		},
		{
			name: "reserved extra key", authorize: allowImpersonating,
			header:     http.Header{"Impersonate-User": {"admin"}, "Impersonate-Extra-Original-User-Info.impersonation-Proxy.concierge.pinniped.dev": {"{}"}},
			wantStatus: http.StatusInternalServerError, wantBody: cannotActAsMessage,
		},
		{
			name: "reserved extra key under the install's suffix", authorize: allowImpersonating,
			header:     http.Header{"Impersonate-User": {"admin"}, "Impersonate-Extra-X.impersonation-Proxy.concierge.selkie.dev": {"1"}},
			wantStatus: http.StatusInternalServerError, wantBody: cannotActAsMessage,
		},
		{
			name: "extra key outside ^[a-z0-9/-._]+$", authorize: allowImpersonating,
			header:     http.Header{"Impersonate-User": {"admin"}, "Impersonate-Extra-Foo%21": {"1"}},
			wantStatus: http.StatusInternalServerError, wantBody: cannotActAsMessage,
		},
		{
			name: "a header the impersonation filter does not know", authorize: allowImpersonating,
			header:     http.Header{"Impersonate-Someone": {"admin"}},
			wantStatus: http.StatusInternalServerError, wantBody: "invalid impersonation",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, func(a *fakeAPI) {
				a.authorize = tt.authorize
				a.tokens["sa-token"] = authenticationv1.UserInfo{Username: saInfo.Username, UID: saInfo.UID, Groups: saInfo.Groups[:1]}
			}, nil)
			alice := issue(t, f.signer, "alice", "devs")
			wantOrig := authenticationv1.UserInfo{Username: "alice", Groups: []string{"devs", "system:authenticated"},
				Extra: map[string]authenticationv1.ExtraValue{"authentication.kubernetes.io/credential-id": {credentialID(t, alice)}}}
			client, header := f.client(t, alice), tt.header.Clone()
			if tt.asSA {
				client, wantOrig = f.client(t, nil), saInfo
				header.Set("Authorization", "Bearer sa-token")
			}
			status, body := f.do(t, client, http.MethodGet, "/api/v1/namespaces/default/secrets", header)
			if status != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Fatalf("got %d %s, want %d containing %q", status, body, tt.wantStatus, tt.wantBody)
			}
			forwarded := f.api.requests()
			if tt.want == nil {
				if len(forwarded) != 0 {
					t.Fatalf("forwarded %d requests, want none", len(forwarded))
				}
				return
			}
			if len(forwarded) != 1 {
				t.Fatalf("forwarded %d requests, want 1", len(forwarded))
			}
			got := impersonationHeaders(forwarded[0])
			var orig authenticationv1.UserInfo
			if err := json.Unmarshal([]byte(got.Get(originalUserHeader)), &orig); err != nil {
				t.Fatalf("original user info %q: %v", got.Get(originalUserHeader), err)
			}
			got.Del(originalUserHeader)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("forwarded headers (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantOrig, orig); diff != "" {
				t.Errorf("original user info (-want +got):\n%s", diff)
			}
		})
	}
}

// TestForgedImpersonation sends Impersonate-User without credentials: the proxy must not
// act on it for anyone, whatever the API server's anonymous policy; it forwards the
// request without credentials and the API server refuses it.
func TestForgedImpersonation(t *testing.T) {
	t.Parallel()
	for _, healthz := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(http.StatusText(healthz), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, func(a *fakeAPI) { a.healthz, a.authorize = healthz, allowAll }, nil)
			status, body := f.do(t, f.client(t, nil), http.MethodGet, "/api/v1/namespaces", http.Header{"Impersonate-User": {"admin"}})
			// Refused anonymous: 401; allowed anonymous: system:anonymous may not impersonate.
			if status != healthz {
				t.Errorf("got %d %s, want %d", status, body, healthz)
			}
			for _, r := range f.api.requests() {
				if got := impersonationHeaders(r); r.Header.Get("Authorization") != "" || len(got["Impersonate-User"]) != 1 || got["Impersonate-User"][0] != "admin" {
					t.Errorf("forwarded with the proxy's credentials or altered headers: %v", got)
				}
			}
		})
	}
}

type fakeAuthorizer struct {
	decision authorizer.Decision
	reason   string
}

func (a fakeAuthorizer) Authorize(context.Context, authorizer.Attributes) (authorizer.Decision, string, error) {
	return a.decision, a.reason, nil
}

func TestReasonAuthorizer(t *testing.T) {
	t.Parallel()
	const by = "decision made by impersonation-proxy.concierge.example.org"
	tests := []struct {
		name         string
		verb         string
		delegate     fakeAuthorizer
		wantDecision authorizer.Decision
		wantReason   string
	}{
		{"empty verb is denied without asking", "", fakeAuthorizer{authorizer.DecisionAllow, ""}, authorizer.DecisionDeny, "invalid verb, " + by},
		{"allowed without a reason", "get", fakeAuthorizer{authorizer.DecisionAllow, ""}, authorizer.DecisionAllow, by},
		{"denied with a reason", "get", fakeAuthorizer{authorizer.DecisionDeny, "no RBAC policy matched"}, authorizer.DecisionDeny, "no RBAC policy matched, " + by},
		{"no opinion", "list", fakeAuthorizer{authorizer.DecisionNoOpinion, ""}, authorizer.DecisionNoOpinion, by},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := &reasonAuthorizer{delegate: tt.delegate, by: by}
			decision, reason, err := a.Authorize(t.Context(), authorizer.AttributesRecord{Verb: tt.verb})
			if err != nil || decision != tt.wantDecision || reason != tt.wantReason {
				t.Errorf("got %v %q %v, want %v %q", decision, reason, err, tt.wantDecision, tt.wantReason)
			}
		})
	}
}
