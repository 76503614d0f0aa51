// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"net/http"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/request/headerrequest"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	endpointsfilters "k8s.io/apiserver/pkg/endpoints/filters"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/klog/v2"
)

// The proxy's authentication and authorization filters do what k8s.io/apiserver's
// WithAuthentication and WithAuthorization do for a server without API audiences or a
// front proxy of its own, with the same answers, but without their Prometheus metrics
// and latency tracking: those go to Kubernetes' global registry, which the concierge
// does not serve (its /metrics has the proxy's own request counts and latencies), yet
// were about 3 % of the proxy's CPU under load, a large part of its budget over a bare
// hop.

// withAuthentication authenticates the request with auth and puts the user in its
// context, or answers it with failed. A request that authenticated loses its
// Authorization header and any front-proxy identity header; an anonymous one over HTTP/2
// closes its connection after the answer, so that unauthenticated clients cannot keep
// HTTP/2 connections open (as kube-apiserver does since CVE-2023-44487).
func withAuthentication(next http.Handler, auth authenticator.Request, failed http.Handler) http.Handler {
	// The standard front-proxy identity headers: a request that authenticated some other
	// way must not carry them any further.
	frontProxyUser, frontProxyUID := headerrequest.StaticStringSlice{"X-Remote-User"}, headerrequest.StaticStringSlice{"X-Remote-Uid"}
	frontProxyGroup, frontProxyExtra := headerrequest.StaticStringSlice{"X-Remote-Group"}, headerrequest.StaticStringSlice{"X-Remote-Extra-"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, ok, err := auth.AuthenticateRequest(r)
		if err != nil || !ok {
			if err != nil {
				klog.ErrorS(err, "Unable to authenticate the request")
			}
			failed.ServeHTTP(w, r)
			return
		}
		r.Header.Del("Authorization")
		headerrequest.ClearAuthenticationHeaders(r.Header, frontProxyUser, frontProxyUID, frontProxyGroup, frontProxyExtra)
		if r.ProtoMajor == 2 && isAnonymous(resp.User) {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r.WithContext(request.WithUser(r.Context(), resp.User)))
	})
}

// isAnonymous is true for the anonymous user or anyone in the unauthenticated group, as
// kube-apiserver's mitigation has it.
func isAnonymous(u user.Info) bool {
	if u.GetName() == user.Anonymous {
		return true
	}
	for _, group := range u.GetGroups() {
		if group == user.AllUnauthenticated {
			return true
		}
	}
	return false
}

// withAuthorization asks authz whether the request's user may do what the request
// asks, and answers 403 (with the reason) or 500 unless it may.
func withAuthorization(next http.Handler, authz authorizer.UnconditionalAuthorizer, codecs runtime.NegotiatedSerializer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attrs, err := endpointsfilters.GetAuthorizerAttributes(r.Context())
		if err != nil {
			responsewriters.InternalError(w, r, err)
			return
		}
		// An authorizer may allow a request and report an error all the same: the
		// decision comes first.
		decision, reason, err := authz.Authorize(r.Context(), attrs)
		switch {
		case decision == authorizer.DecisionAllow:
			next.ServeHTTP(w, r)
		case err != nil:
			responsewriters.InternalError(w, r, err)
		default:
			klog.V(4).InfoS("Forbidden", "URI", r.RequestURI, "reason", reason)
			responsewriters.Forbidden(attrs, w, r, reason, codecs)
		}
	})
}
