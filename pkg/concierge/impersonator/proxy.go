// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	endpointsfilters "k8s.io/apiserver/pkg/endpoints/filters"
	"k8s.io/apiserver/pkg/endpoints/filters/impersonation"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
	"k8s.io/apiserver/pkg/endpoints/request"
	genericfilters "k8s.io/apiserver/pkg/server/filters"

	"github.com/selkie-dev/selkie/pkg/certauthority"
)

// Proxy is the impersonation proxy's request handler. It is safe for concurrent use.
type Proxy struct {
	cfg        Config
	log        *slog.Logger
	upstream   *url.URL
	transports upstreamTransports
	codecs     runtime.NegotiatedSerializer
	signer     *signerCAContent
	authn      authenticators
	handler    http.Handler
	buffers    *bufferPool
}

var _ http.Handler = (*Proxy)(nil)

// New builds the proxy. It starts following the API server's client CA, waiting up to 10 seconds for its first copy; that
// follower, like every cache in the proxy, lives until ctx ends, so ctx should span the
// proxy's whole life. New does not listen: serve the Proxy with Serve or as an
// http.Handler behind a TLS server that requests client certificates.
func New(ctx context.Context, cfg Config) (*Proxy, error) {
	upstream, err := cfg.complete()
	if err != nil {
		return nil, err
	}
	p := &Proxy{cfg: cfg, log: cfg.Log, upstream: upstream, codecs: newCodecs(),
		signer: &signerCAContent{}, buffers: newBufferPool()}
	p.SetSignerCA(cfg.SignerCA, cfg.PreviousSignerCA)
	if p.transports, err = newUpstreamTransports(cfg.Upstream); err != nil {
		return nil, err
	}
	context.AfterFunc(ctx, p.transports.closeIdle)
	clientCA, err := newClientCA(&p.cfg)
	if err != nil {
		return nil, err
	}
	if p.authn, err = newAuthenticators(&p.cfg, p.signer, clientCA); err != nil {
		return nil, err
	}
	authz, err := newAuthorizer(&p.cfg)
	if err != nil {
		return nil, err
	}
	p.handler = p.chain(authz)
	if err := runClientCA(ctx, &p.cfg, clientCA); err != nil {
		return nil, err
	}
	p.log.InfoContext(ctx, "impersonation proxy ready", "upstream", upstream.Host)
	return p, nil
}

// ServeHTTP authenticates, authorizes and forwards one request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.handler.ServeHTTP(w, r) }

// SetSignerCA replaces the signer CAs whose client certificates the proxy trusts: ca,
// which issues now, and previous ones whose certificates have not expired yet (after a
// rotation); nil ca stops trusting any. Certificates from the API server's client CA are
// not affected.
func (p *Proxy) SetSignerCA(ca *certauthority.CA, previous ...*certauthority.CA) {
	if ca == nil {
		p.signer.set()
		return
	}
	p.signer.set(append([]*certauthority.CA{ca}, previous...)...)
}

// chain is kube-apiserver's order: request info, authentication, impersonation,
// authorization (of the user being impersonated), then the proxying itself.
func (p *Proxy) chain(authz authorizer.UnconditionalAuthorizer) http.Handler {
	var h http.Handler = http.HandlerFunc(p.forward)
	h = withAuthorization(h, authz, p.codecs)
	h = impersonation.WithImpersonation(h, authz, p.codecs)
	h = p.withRequester(h)
	h = p.withAnonymous(h)
	h = withAuthentication(h, p.authn.request, p.unauthorized())
	h = p.withTimeout(h)
	h = endpointsfilters.WithRequestInfo(h, requestInfoResolver{factory: newRequestInfoFactory()})
	return p.withState(h)
}

// unauthorized answers a failed authentication: 401, or 429 with Retry-After when a rate
// limit refused it.
func (p *Proxy) unauthorized() http.Handler {
	unauthorized := endpointsfilters.Unauthorized(p.codecs)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		state := stateFrom(r.Context())
		if state == nil || state.retryAfter <= 0 {
			unauthorized.ServeHTTP(w, r)
			return
		}
		seconds := int(math.Ceil(state.retryAfter.Seconds()))
		responsewriters.ErrorNegotiated(apierrors.NewTooManyRequests("too many failed bearer tokens from this address; try again later", seconds),
			p.codecs, schema.GroupVersion{}, w, r)
	})
}

// withAnonymous forwards requests without credentials (system:anonymous) to the API
// server as they came, without the proxy's identity, so that the API server's own
// anonymous policy decides: it may refuse anonymous requests altogether or allow them on
// some paths only (AuthenticationConfiguration's anonymous conditions), and the proxy
// must never grant more. TokenCredentialRequests are the exception: they are how clients
// without credentials log in, so they go through the proxy's chain as system:anonymous
// even where the API server refuses anonymous requests.
func (p *Proxy) withAnonymous(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := request.UserFrom(r.Context())
		info, _ := request.RequestInfoFrom(r.Context())
		if !ok || u.GetName() != user.Anonymous || (info != nil && isTokenCredentialRequest(info)) {
			next.ServeHTTP(w, r)
			return
		}
		if state := stateFrom(r.Context()); state != nil {
			state.requester, state.acting, state.mode = u, u, "anonymous"
		}
		p.toUpstream(w, r, nil)
	})
}

// withRequester remembers who authenticated before WithImpersonation replaces the user.
func (p *Proxy) withRequester(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if state := stateFrom(r.Context()); state != nil {
			state.requester, _ = request.UserFrom(r.Context())
			state.nested = impersonationHeader(r.Header) != ""
		}
		next.ServeHTTP(w, r)
	})
}

// withTimeout bounds requests that are not long-running the way kube-apiserver does:
// verbs watch and proxy, subresources attach, exec, proxy, log and portforward, and any
// protocol upgrade run unbounded.
func (p *Proxy) withTimeout(next http.Handler) http.Handler {
	longRunning := genericfilters.BasicLongRunningRequestCheck(
		sets.NewString("watch", "proxy"),
		sets.NewString("attach", "exec", "proxy", "log", "portforward"),
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, ok := request.RequestInfoFrom(r.Context())
		long := isUpgrade(r) || ok && longRunning(r, info)
		if state := stateFrom(r.Context()); state != nil {
			state.info, state.longRunning = info, long
		}
		if !long {
			ctx, cancel := context.WithTimeout(r.Context(), p.cfg.RequestTimeout)
			defer cancel()
			r = r.WithContext(ctx)
			// The connection (an HTTP/2 stream) is bounded too, so that a client
			// sending its body or reading the answer slowly cannot hold it open.
			rc := http.NewResponseController(w)
			deadline := time.Now().Add(p.cfg.RequestTimeout + requestIOGrace)
			_ = rc.SetReadDeadline(deadline)
			_ = rc.SetWriteDeadline(deadline)
		}
		next.ServeHTTP(w, r)
	})
}

// newCodecs can encode the metav1.Status of the proxy's own answers.
func newCodecs() runtime.NegotiatedSerializer {
	scheme := runtime.NewScheme()
	metav1.AddToGroupVersion(scheme, metav1.Unversioned)
	return serializer.NewCodecFactory(scheme).WithoutConversion()
}
