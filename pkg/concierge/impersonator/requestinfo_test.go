// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apiserver/pkg/endpoints/request"
)

// TestRequestInfoResolverMatchesTheFactory compares requestInfoResolver with
// kube-apiserver's RequestInfoFactory on every combination of these methods, paths and
// queries: the result, including errors, must be the same.
func TestRequestInfoResolverMatchesTheFactory(t *testing.T) {
	t.Parallel()
	methods := []string{http.MethodGet, http.MethodHead, http.MethodDelete, http.MethodPost, http.MethodPatch}
	paths := []string{
		"/api/v1/namespaces/default/configmaps", "/api/v1/namespaces/default/configmaps/one",
		"/api/v1/configmaps", "/api/v1/namespaces", "/api/v1/namespaces/default",
		"/apis/apps/v1/namespaces/ns/deployments", "/apis/apps/v1/namespaces/ns/deployments/d/scale",
		"/api/v1/watch/namespaces/default/configmaps", "/api/v1/watch/namespaces/default/configmaps/one",
		"/api/v1/namespaces/default/pods/p/log", "/api/v1/proxy/namespaces/default/services/s",
		"/apis/login.concierge.selkie.dev/v1alpha1/tokencredentialrequests",
		"/api", "/apis", "/healthz", "/version", "/openapi/v3", "/", "/api/v1/namespaces/default/configmaps/",
	}
	queries := []string{
		"", "limit=500", "limit=500&resourceVersion=0", "labelSelector=app%3Dweb", "labelSelector=app%3Dweb&limit=10",
		"labelSelector=", "labelSelector=x", "labelSelector=a&labelSelector=b", "labelSelector=%21%21bad",
		"fieldSelector=metadata.name%3Done", "fieldSelector=metadata.name%3Done&labelSelector=app%3Dweb",
		"fieldSelector=spec.nodeName%3Dn1", "fieldSelector=metadata.name%3DBad_Name",
		"watch=true", "watch=1", "watch=false", "watch=0", "watch=true&labelSelector=app%3Dweb&resourceVersion=5",
		"limit=abc", "limit=abc&watch=true", "limit=abc&labelSelector=app%3Dweb", "timeoutSeconds=x",
		"resourceVersionMatch=NotOlderThan&resourceVersion=1", "continue=abc&limit=2", "pretty=true",
		"allowWatchBookmarks=true&watch=1", "sendInitialEvents=true", "dryRun=All", "%zz=1",
	}
	factory := newRequestInfoFactory()
	resolver := requestInfoResolver{factory: factory}
	for _, method := range methods {
		for _, path := range paths {
			for _, query := range queries {
				target := path
				if query != "" {
					target += "?" + query
				}
				req := httptest.NewRequest(method, target, nil)
				want, wantErr := factory.NewRequestInfo(req)
				got, gotErr := resolver.NewRequestInfo(req)
				if (wantErr == nil) != (gotErr == nil) {
					t.Errorf("%s %s: error %v, factory %v", method, target, gotErr, wantErr)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s %s (-factory +resolver):\n%s", method, target, diff)
				}
			}
		}
	}
}

// BenchmarkRequestInfo compares the resolver with kube-apiserver's factory on the proxy
// benchmark's two requests and a list with paging.
func BenchmarkRequestInfo(b *testing.B) {
	for _, target := range []string{
		"/api/v1/namespaces/default/configmaps/bench-00",
		"/api/v1/namespaces/default/configmaps?labelSelector=app%3Dbench",
		"/api/v1/namespaces/default/configmaps?limit=500&resourceVersion=0",
	} {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		for name, r := range map[string]interface {
			NewRequestInfo(*http.Request) (*request.RequestInfo, error)
		}{"factory": newRequestInfoFactory(), "resolver": requestInfoResolver{factory: newRequestInfoFactory()}} {
			b.Run(name+target, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := r.NewRequestInfo(req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
