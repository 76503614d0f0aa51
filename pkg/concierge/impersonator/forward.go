// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	"k8s.io/apiserver/pkg/endpoints/request"
)

// upstreamAuth is how one request authenticates to the API server.
type upstreamAuth struct {
	token string
	// as is the user to impersonate; nil passes the caller's own token through.
	as *user.DefaultInfo
}

// forward sends an authenticated, authorized request to the API server as its user.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	state := stateFrom(ctx)
	acting, ok := request.UserFrom(ctx)
	if !ok || state == nil || state.requester == nil {
		p.fail(w, r, apierrors.NewInternalError(errors.New("invalid user")), errors.New("no authenticated user in the request context"))
		return
	}
	// WithImpersonation consumed the headers it understands; whatever is left is a bug or
	// an attack, and must not reach an API server that would honour it for our account.
	if name := impersonationHeader(r.Header); name != "" {
		p.fail(w, r, apierrors.NewInternalError(errors.New("invalid impersonation")), fmt.Errorf("header %s survived impersonation", name))
		return
	}
	state.acting = acting
	auth, err := p.upstreamAuth(ctx, acting, state)
	if err != nil {
		msg := "could not forward the request"
		if errors.Is(err, errCannotActAs) {
			msg = cannotActAsMessage
		}
		p.fail(w, r, apierrors.NewInternalError(errors.New(msg)), err)
		return
	}
	p.toUpstream(w, r, auth.apply)
}

// toUpstream sends r to the API server, streaming the answer back, after removing the
// headers through which a client can claim an address and letting setHeaders set the
// outgoing request's credentials (nil: none).
func (p *Proxy) toUpstream(w http.ResponseWriter, r *http.Request, setHeaders func(http.Header)) {
	proxy := &httputil.ReverseProxy{
		// Rewrite (unlike Director) starts from a request without X-Forwarded-* headers
		// and adds none.
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(p.upstream)
			// The API server records a client's address from X-Forwarded-For, then
			// X-Real-Ip; a client could plant either to fake the source address in the
			// audit log. Forwarded carries the same claim in its standard form.
			for _, name := range clientAddressHeaders {
				pr.Out.Header.Del(name)
			}
			if setHeaders != nil {
				setHeaders(pr.Out.Header)
			}
		},
		Transport: p.transports.forRequest(r),
		// Flushes at least this often; chunked responses such as watches are flushed
		// after every write.
		FlushInterval: flushInterval,
		ErrorHandler:  p.upstreamError,
		BufferPool:    p.buffers,
	}
	proxy.ServeHTTP(w, r)
}

// upstreamAuth decides how the request authenticates upstream. Without a UID the user can
// be impersonated; with one (ServiceAccount tokens, for instance) it cannot, so the
// caller's own token goes through, once the API server confirms whose it is.
func (p *Proxy) upstreamAuth(ctx context.Context, acting user.Info, state *requestState) (*upstreamAuth, error) {
	if acting.GetUID() == "" {
		extra, err := p.upstreamExtra(acting, state)
		if err != nil {
			return nil, err
		}
		token, err := p.cfg.ProxyToken(ctx)
		if err == nil && token == "" {
			err = errors.New("empty token")
		}
		if err != nil {
			return nil, fmt.Errorf("get the proxy's ServiceAccount token: %w", err)
		}
		state.mode = "impersonate"
		return &upstreamAuth{token: token, as: &user.DefaultInfo{Name: acting.GetName(), Groups: acting.GetGroups(), Extra: extra}}, nil
	}
	switch {
	case state.nested:
		return nil, fmt.Errorf("%w: nested impersonation yields a UID, which cannot be impersonated", errCannotActAs)
	case state.token == "":
		return nil, fmt.Errorf("%w: the user has a UID but did not authenticate with a bearer token", errCannotActAs)
	}
	// The chain sets no audiences, so this is the audience-free review the contract asks
	// for (and usually a cache hit). A client certificate takes precedence over a token,
	// so the token may belong to someone else entirely.
	fake := (&http.Request{Header: http.Header{"Authorization": {"Bearer " + state.token}}}).WithContext(ctx)
	resp, ok, err := p.authn.token.AuthenticateRequest(fake)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: token review: %w", errCannotActAs, err)
	case !ok:
		return nil, fmt.Errorf("%w: the bearer token does not authenticate", errCannotActAs)
	case !sameUser(resp.User, state.requester):
		return nil, fmt.Errorf("%w: the bearer token authenticates a different user", errCannotActAs)
	}
	state.mode = "passthrough"
	return &upstreamAuth{token: state.token}, nil
}

// clientAddressHeaders are the headers through which a client can claim an address.
//
//nolint:gochecknoglobals // a read-only list of header names.
var clientAddressHeaders = []string{"X-Forwarded-For", "X-Real-Ip", "Forwarded"}

// apply replaces every credential and impersonation header of the outgoing request.
func (a *upstreamAuth) apply(h http.Header) {
	for k := range h {
		if isImpersonationHeader(k) {
			delete(h, k)
		}
	}
	h.Set("Authorization", "Bearer "+a.token)
	if a.as == nil {
		return
	}
	h.Set("Impersonate-User", a.as.Name)
	for _, g := range a.as.Groups {
		h.Add("Impersonate-Group", g)
	}
	for k, values := range a.as.Extra {
		// Keys were checked against ^[a-z0-9/\-._]+$, so path escaping only turns "/"
		// into %2F, which the API server unescapes.
		name := "Impersonate-Extra-" + url.PathEscape(k)
		for _, v := range values {
			h.Add(name, v)
		}
	}
}

// upstreamError answers when the API server could not be reached or timed out.
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case r.Context().Err() != nil && errors.Is(err, context.DeadlineExceeded):
		p.fail(w, r, apierrors.NewTimeoutError(fmt.Sprintf("request did not complete within %s", p.cfg.RequestTimeout), 0), nil)
	case r.Context().Err() != nil:
		w.WriteHeader(http.StatusBadGateway) // the client is gone; nobody reads this
	default:
		p.fail(w, r, apierrors.NewServiceUnavailable("the API server could not be reached"), fmt.Errorf("upstream: %w", err))
	}
}

// fail writes status to the client and logs cause, which may say more than the client
// should hear.
func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, status *apierrors.StatusError, cause error) {
	if cause != nil {
		p.log.WarnContext(r.Context(), "impersonation proxy refused or failed a request",
			"method", r.Method, "path", r.URL.Path, "status", status.Status().Code, "error", cause.Error())
	}
	responsewriters.ErrorNegotiated(status, p.codecs, schema.GroupVersion{}, w, r)
}
