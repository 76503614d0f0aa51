// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	endpointsfilters "k8s.io/apiserver/pkg/endpoints/filters"
	"k8s.io/apiserver/pkg/endpoints/request"
)

// answer is what a filter chain did with a request: the status, the headers and body of
// the answer, and the headers and user the next handler saw (when it ran).
type answer struct {
	Status     int
	Body       string
	Header     http.Header
	NextHeader http.Header
	NextUser   string
}

func serve(h http.Handler, r *http.Request) answer {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return answer{Status: rec.Code, Body: rec.Body.String(), Header: rec.Header()}
}

// next records the headers and the user it saw in the answer's X-Next-* headers.
var next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	u, _ := request.UserFrom(r.Context())
	name := "<none>"
	if u != nil {
		name = u.GetName()
	}
	w.Header().Set("X-Next-User", name)
	w.Header().Set("X-Next-Headers", fmt.Sprint(r.Header))
	w.WriteHeader(http.StatusNoContent)
})

// TestFiltersAnswerAsKubernetesDoes runs each request through the proxy's
// authentication and authorization filters and through k8s.io/apiserver's, which they
// replace: status, headers, body and what the next handler saw must be the same.
func TestFiltersAnswerAsKubernetesDoes(t *testing.T) {
	t.Parallel()
	alice := &user.DefaultInfo{Name: "alice", Groups: []string{"devs", user.AllAuthenticated}}
	anonymous := &user.DefaultInfo{Name: user.Anonymous, Groups: []string{user.AllUnauthenticated}}
	unauthenticatedGroup := &user.DefaultInfo{Name: "nobody", Groups: []string{user.AllUnauthenticated}}
	authns := map[string]authenticator.RequestFunc{
		"alice": func(*http.Request) (*authenticator.Response, bool, error) {
			return &authenticator.Response{User: alice}, true, nil
		},
		"anonymous": func(*http.Request) (*authenticator.Response, bool, error) {
			return &authenticator.Response{User: anonymous}, true, nil
		},
		"unauthenticated group": func(*http.Request) (*authenticator.Response, bool, error) {
			return &authenticator.Response{User: unauthenticatedGroup}, true, nil
		},
		"no credentials": func(*http.Request) (*authenticator.Response, bool, error) { return nil, false, nil },
		"error": func(*http.Request) (*authenticator.Response, bool, error) {
			return nil, false, errors.New("x509: certificate signed by unknown authority")
		},
	}
	authzs := map[string]authorizer.AuthorizerFunc{
		"allow": func(context.Context, authorizer.Attributes) (authorizer.Decision, string, error) {
			return authorizer.DecisionAllow, "rbac says yes", nil
		},
		"allow with an error": func(context.Context, authorizer.Attributes) (authorizer.Decision, string, error) {
			return authorizer.DecisionAllow, "", errors.New("one webhook failed")
		},
		"deny": func(context.Context, authorizer.Attributes) (authorizer.Decision, string, error) {
			return authorizer.DecisionDeny, "nobody may", nil
		},
		"no opinion": func(context.Context, authorizer.Attributes) (authorizer.Decision, string, error) {
			return authorizer.DecisionNoOpinion, "", nil
		},
		"error": func(context.Context, authorizer.Attributes) (authorizer.Decision, string, error) {
			return authorizer.DecisionNoOpinion, "", errors.New("webhook unreachable")
		},
	}
	codecs := newCodecs()
	failed := endpointsfilters.Unauthorized(codecs)
	resolver := requestInfoResolver{factory: newRequestInfoFactory()}
	for authnName, authn := range authns {
		for authzName, authz := range authzs {
			for _, proto := range []int{1, 2} {
				name := fmt.Sprintf("%s/%s/HTTP%d", authnName, authzName, proto)
				request := func() *http.Request {
					r := httptest.NewRequest(http.MethodGet, "/api/v1/namespaces/default/configmaps?labelSelector=app%3Dweb", nil)
					r.ProtoMajor = proto
					r.Header.Set("Authorization", "Bearer secret")
					r.Header.Set("X-Remote-User", "mallory")
					r.Header.Set("X-Remote-Group", "system:masters")
					r.Header.Set("X-Remote-Uid", "1")
					r.Header.Set("X-Remote-Extra-Scopes", "all")
					r.Header.Set("Accept", "application/json")
					return r
				}
				ours := endpointsfilters.WithRequestInfo(withAuthentication(withAuthorization(next, authz, codecs), authn, failed), resolver)
				theirs := endpointsfilters.WithRequestInfo(endpointsfilters.WithAuthentication(
					endpointsfilters.WithAuthorization(next, authz, codecs), authn, failed, nil, nil), resolver)
				got, want := serve(ours, request()), serve(theirs, request())
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s: answers differ (-kubernetes +ours):\n%s", name, diff)
				}
			}
		}
	}
}

// TestAuthenticationFilterStripsCredentials checks what the parity test above assumes the
// next handler must not see, independently of Kubernetes' filter.
func TestAuthenticationFilterStripsCredentials(t *testing.T) {
	t.Parallel()
	authn := authenticator.RequestFunc(func(*http.Request) (*authenticator.Response, bool, error) {
		return &authenticator.Response{User: &user.DefaultInfo{Name: "alice"}}, true, nil
	})
	var seen http.Header
	var who string
	h := withAuthentication(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		u, _ := request.UserFrom(r.Context())
		who = u.GetName()
	}), authn, http.NotFoundHandler())
	r := httptest.NewRequest(http.MethodGet, "/api", nil)
	for _, header := range []string{"Authorization", "X-Remote-User", "X-Remote-Group", "X-Remote-Uid", "X-Remote-Extra-Scopes"} {
		r.Header.Set(header, "x")
	}
	r.Header.Set("Impersonate-User", "bob")
	serve(h, r)
	if who != "alice" {
		t.Errorf("user %q, want alice", who)
	}
	if want := (http.Header{"Impersonate-User": {"bob"}}); !cmp.Equal(seen, want) {
		t.Errorf("next handler saw headers %v, want %v", seen, want)
	}
}
