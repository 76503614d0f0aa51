// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"

	"github.com/selkie-dev/selkie/pkg/certauthority"
	"github.com/selkie-dev/selkie/pkg/ratelimit"
)

// allowAll lets everyone do anything except impersonate.
func allowAll(spec authorizationv1.SubjectAccessReviewSpec) (bool, string) {
	ra := spec.ResourceAttributes
	return ra == nil || ra.Verb != "impersonate", ""
}

const credentialIDHeader = "Impersonate-Extra-Authentication.kubernetes.io%2fcredential-Id"

func TestForwardsAuthenticatedUsers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(a *fakeAPI) {
		a.authorize = allowAll
		a.tokens["webhook-token"] = authenticationv1.UserInfo{Username: "dana", Groups: []string{"readers"}}
		a.tokens["sa-token"] = authenticationv1.UserInfo{Username: "system:serviceaccount:ns:sa", UID: "sa-uid",
			Groups: []string{"system:serviceaccounts"}, Extra: map[string]authenticationv1.ExtraValue{"authentication.kubernetes.io/credential-id": {"JTI=1"}}}
	}, nil)
	otherCA, err := certauthority.New("unknown-ca", certauthority.MaxTTL)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		cert       *certauthority.KeyPair
		header     http.Header
		wantStatus int
		want       http.Header // nil: nothing forwarded
	}{
		{
			name: "certificate from the signer CA", cert: issue(t, f.signer, "alice", "devs", "ops"),
			// Kubernetes takes a client's address from X-Forwarded-For, then X-Real-Ip, for
			// its audit log: neither may survive, nor the standard Forwarded header.
			header: http.Header{"X-Forwarded-For": {"203.0.113.9"}, "X-Real-Ip": {"203.0.113.10"},
				"Forwarded": {"for=203.0.113.11"}},
			wantStatus: http.StatusOK,
			want: http.Header{"Authorization": {"Bearer " + proxyToken}, "Impersonate-User": {"alice"},
				"Impersonate-Group": {"devs", "ops", "system:authenticated"}, credentialIDHeader: {"<elided>"}},
		},
		{
			name: "certificate from the API server's client CA", cert: issue(t, f.api.clusterCA, "bob", "admins"),
			wantStatus: http.StatusOK,
			want: http.Header{"Authorization": {"Bearer " + proxyToken}, "Impersonate-User": {"bob"},
				"Impersonate-Group": {"admins", "system:authenticated"}, credentialIDHeader: {"<elided>"}},
		},
		{
			name: "token without a UID is impersonated", header: http.Header{"Authorization": {"Bearer webhook-token"}},
			wantStatus: http.StatusOK,
			want: http.Header{"Authorization": {"Bearer " + proxyToken}, "Impersonate-User": {"dana"},
				"Impersonate-Group": {"readers", "system:authenticated"}},
		},
		{
			name: "token with a UID passes through", header: http.Header{"Authorization": {"Bearer sa-token"}},
			wantStatus: http.StatusOK,
			want:       http.Header{"Authorization": {"Bearer sa-token"}},
		},
		{name: "certificate from an unknown CA", cert: issue(t, otherCA, "mallory"), wantStatus: http.StatusUnauthorized},
		// The signer CA's certificates carry what a token authenticator said; Kubernetes'
		// reserved names are refused there whatever the authenticator, and here too.
		{name: "signer certificate with system:masters", cert: issue(t, f.signer, "mallory", "devs", "system:masters"), wantStatus: http.StatusUnauthorized},
		{name: "signer certificate with a system: username", cert: issue(t, f.signer, "system:serviceaccount:kube-system:default"), wantStatus: http.StatusUnauthorized},
		{
			name: "the API server's client CA may name system: groups", cert: issue(t, f.api.clusterCA, "admin", "system:masters"),
			wantStatus: http.StatusOK,
			want: http.Header{"Authorization": {"Bearer " + proxyToken}, "Impersonate-User": {"admin"},
				"Impersonate-Group": {"system:masters", "system:authenticated"}, credentialIDHeader: {"<elided>"}},
		},
		{name: "unknown token", header: http.Header{"Authorization": {"Bearer nope"}}, wantStatus: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.api.requests())
			status, body := f.do(t, f.client(t, tt.cert), http.MethodGet, "/api/v1/namespaces/default/configmaps", tt.header)
			if status != tt.wantStatus {
				t.Fatalf("status %d (%s), want %d", status, body, tt.wantStatus)
			}
			if got := f.forwardedOne(t, before, tt.want); got != nil && (got.ProtoMajor != 2 || got.URL.Path != "/api/v1/namespaces/default/configmaps") {
				t.Errorf("forwarded %s %s, want HTTP/2 to the same path", got.Proto, got.URL.Path)
			}
		})
	}
	if logs := f.logs.String(); strings.Contains(logs, "sa-token") || strings.Contains(logs, proxyToken) ||
		strings.Contains(logs, "webhook-token") || strings.Contains(logs, `"alice"`) {
		t.Errorf("logs leak a token or a username:\n%s", logs)
	}
	for _, want := range []string{`"msg":"impersonation proxy request"`, `"verb":"list"`, `"resource":"configmaps"`,
		`"user":{"username":"redacted","groupCount":3}`, `"upstreamAuth":"impersonate"`, `"upstreamAuth":"passthrough"`} {
		if !strings.Contains(f.logs.String(), want) {
			t.Errorf("per-request log lines lack %s:\n%s", want, f.logs.String())

		}
	}
}

func TestUIDUsers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(a *fakeAPI) {
		a.authorize = func(spec authorizationv1.SubjectAccessReviewSpec) (bool, string) { return true, "" }
		a.tokens["sa-token"] = authenticationv1.UserInfo{Username: "system:serviceaccount:ns:sa", UID: "sa-uid"}
	}, nil)
	carol := issueWithUID(t, f.signer, "carol", "carol-uid")
	tests := []struct {
		name   string
		cert   *certauthority.KeyPair
		header http.Header
	}{
		{name: "certificate with a UID and no token", cert: carol},
		{name: "certificate with a UID and someone else's token", cert: carol, header: http.Header{"Authorization": {"Bearer sa-token"}}},
		{name: "token with a UID impersonating a UID", header: http.Header{"Authorization": {"Bearer sa-token"}, "Impersonate-User": {"eve"}, "Impersonate-Uid": {"eve-uid"}}},
		{name: "UID impersonation", cert: issue(t, f.signer, "alice"), header: http.Header{"Impersonate-User": {"eve"}, "Impersonate-Uid": {"eve-uid"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.api.requests())
			status, body := f.do(t, f.client(t, tt.cert), http.MethodGet, "/api/v1/pods", tt.header)
			if status != http.StatusInternalServerError || !strings.Contains(body, cannotActAsMessage) {
				t.Errorf("got %d %s, want 500 %q", status, body, cannotActAsMessage)
			}
			if n := len(f.api.requests()) - before; n != 0 {
				t.Errorf("forwarded %d requests, want none", n)
			}
		})
	}
}

// TestAnonymousOnHealthPathsOnly is an API server that accepts anonymous requests on
// /healthz only: the proxy must not grant anonymous access anywhere else.
func TestAnonymousOnHealthPathsOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(a *fakeAPI) {
		a.healthz, a.anonymousElsewhere, a.authorize = http.StatusOK, http.StatusUnauthorized, allowAll
	}, nil)
	status, body := f.do(t, f.client(t, nil), http.MethodGet, "/api/v1/namespaces/default/configmaps", nil)
	if status != http.StatusUnauthorized {
		t.Errorf("anonymous read through the proxy: %d %s, want 401 as from the API server", status, body)
	}
	for _, r := range f.api.requests() {
		if r.Header.Get("Authorization") != "" || r.Header.Get("Impersonate-User") != "" {
			t.Errorf("an anonymous request went upstream with credentials: %v", impersonationHeaders(r))
		}
	}
}

func TestAnonymous(t *testing.T) {
	t.Parallel()
	const (
		configmaps = "/api/v1/namespaces/default/configmaps"
		tcr        = "/apis/login.concierge.selkie.dev/v1alpha1/tokencredentialrequests"
		tcrRef     = "/apis/login.concierge.pinniped.dev/v1alpha1/tokencredentialrequests"
	)
	// A login goes through the proxy's chain as system:anonymous; anything else anonymous
	// goes upstream without credentials, for the API server to decide.
	asAnonymous := http.Header{"Authorization": {"Bearer " + proxyToken}, "Impersonate-User": {"system:anonymous"},
		"Impersonate-Group": {"system:unauthenticated"}}
	uncredentialed := http.Header{}
	tests := []struct {
		name        string
		healthz     int
		method      string
		path        string
		want        int
		wantHeaders http.Header
	}{
		{"API server refuses anonymous: read", http.StatusUnauthorized, http.MethodGet, configmaps, http.StatusUnauthorized, uncredentialed},
		{"API server refuses anonymous: login", http.StatusUnauthorized, http.MethodPost, tcr, http.StatusOK, asAnonymous},
		{"API server refuses anonymous: login, reference suffix", http.StatusUnauthorized, http.MethodPost, tcrRef, http.StatusOK, asAnonymous},
		{"API server refuses anonymous: other login.concierge resource", http.StatusUnauthorized, http.MethodPost,
			"/apis/login.concierge.selkie.dev/v1alpha1/whoamirequests", http.StatusUnauthorized, uncredentialed},
		{"API server allows anonymous (403 on healthz): read", http.StatusForbidden, http.MethodGet, configmaps, http.StatusOK, uncredentialed},
		{"API server allows anonymous (200 on healthz): login", http.StatusOK, http.MethodPost, tcr, http.StatusOK, asAnonymous},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, func(a *fakeAPI) { a.healthz, a.authorize = tt.healthz, allowAll }, nil)
			status, body := f.do(t, f.client(t, nil), tt.method, tt.path, http.Header{"X-Real-Ip": {"203.0.113.10"}})
			if status != tt.want {
				t.Fatalf("status %d (%s), want %d", status, body, tt.want)
			}
			forwarded := f.api.requests()
			if len(forwarded) != 1 {
				t.Fatalf("forwarded %d requests, want 1", len(forwarded))
			}
			if diff := cmp.Diff(tt.wantHeaders, impersonationHeaders(forwarded[0])); diff != "" {
				t.Errorf("forwarded headers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetSignerCA(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(a *fakeAPI) { a.authorize = allowAll }, nil)
	next, err := certauthority.New("next-signer", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	fromOld, fromNext := issue(t, f.signer, "alice"), issue(t, next, "alice")
	steps := []struct {
		name     string
		signer   *certauthority.CA
		previous []*certauthority.CA
		wantOld  int
		wantNext int
	}{
		{"before rotation", f.signer, nil, http.StatusOK, http.StatusUnauthorized},
		// Certificates from the replaced CA live minutes; they stay good until they expire.
		{"after rotation, the previous CA still trusted", next, []*certauthority.CA{f.signer}, http.StatusOK, http.StatusOK},
		{"once the previous CA is dropped", next, nil, http.StatusUnauthorized, http.StatusOK},
		{"without a signer", nil, nil, http.StatusUnauthorized, http.StatusUnauthorized},
	}
	for _, step := range steps {
		f.proxy.SetSignerCA(step.signer, step.previous...)
		if status, _ := f.do(t, f.client(t, fromOld), http.MethodGet, "/api", nil); status != step.wantOld {
			t.Errorf("%s: old signer's certificate got %d, want %d", step.name, status, step.wantOld)
		}
		if status, _ := f.do(t, f.client(t, fromNext), http.MethodGet, "/api", nil); status != step.wantNext {
			t.Errorf("%s: new signer's certificate got %d, want %d", step.name, status, step.wantNext)
		}
	}
}

// TestRandomBearerTokensAreLimited floods the proxy with bearer tokens nobody issued:
// past the burst an address gets 429 without a TokenReview, while certificate users are
// served.
func TestRandomBearerTokensAreLimited(t *testing.T) {
	t.Parallel()
	rule := ratelimit.Rule{PerMinute: 1, Burst: 20} // no refill within the test
	f := newFixture(t, func(a *fakeAPI) { a.authorize = allowAll }, func(c *Config) { c.TokenFailures = rule })
	client := f.client(t, nil)
	limited := 0
	for i := range 50 {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.url+"/api/v1/namespaces", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", fmt.Sprintf("Bearer random-%d", i))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			limited++
			if resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		default:
			t.Fatalf("random token %d: %d", i, resp.StatusCode)
		}
	}
	f.api.mu.Lock()
	reviews := f.api.tokenReviews
	f.api.mu.Unlock()
	if limited != 50-rule.Burst || reviews > rule.Burst+1 {
		t.Errorf("%d of 50 random tokens limited after %d TokenReviews; want %d limited and at most %d reviews", limited, reviews, 50-rule.Burst, rule.Burst+1)
	}
	if status, body := f.do(t, f.client(t, issue(t, f.signer, "alice")), http.MethodGet, "/api/v1/namespaces", nil); status != http.StatusOK {
		t.Errorf("a certificate user during the flood: %d %s", status, body)
	}
}
