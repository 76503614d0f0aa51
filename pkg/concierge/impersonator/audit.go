// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"bufio"
	"context"
	"encoding/base64"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/endpoints/request"

	"github.com/selkie-dev/selkie/pkg/servermetrics"
)

// requestState travels with one request through the handler chain. It holds the caller's
// bearer token, so it is never logged as a whole.
type requestState struct {
	// token is the caller's bearer token, captured before authentication removes it.
	token string
	// info is what the request asks for.
	info *request.RequestInfo
	// requester is who authenticated, before any nested impersonation.
	requester user.Info
	// acting is who the request is forwarded as.
	acting user.Info
	// nested says the client sent Impersonate-* headers.
	nested bool
	// mode is how the request went upstream: "impersonate", "passthrough" or
	// "anonymous".
	mode string
	// retryAfter is set when a rate limit refused the request.
	retryAfter time.Duration
	// longRunning marks watches, streams and upgrades, which are not timed.
	longRunning bool
	// authenticator names the JWTAuthenticator that accepted a bearer JWT, if one did.
	authenticator string
}

type stateKey struct{}

func stateFrom(ctx context.Context) *requestState {
	s, _ := ctx.Value(stateKey{}).(*requestState)
	return s
}

// withState attaches a requestState, captures the bearer token and writes one debug line
// when the request ends.
func (p *Proxy) withState(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		growStack()
		start := time.Now()
		state := &requestState{token: bearerToken(r.Header)}
		rec := &statusRecorder{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), stateKey{}, state))
		defer func() {
			d := time.Since(start)
			countRequest(rec.status, d, state)
			p.logRequest(r, rec.status, d, state)
		}()
		next.ServeHTTP(rec, r)
	})
}

// metricVerb is verb if it labels the proxy's metrics, else "other", so that a client's
// made-up HTTP methods cannot grow the label set.
func metricVerb(verb string) string {
	switch verb {
	case "get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "proxy",
		"head", "options", "post", "put":
		return verb
	}
	return "other"
}

// countRequest records a finished request in the proxy's metrics.
func countRequest(status int, d time.Duration, state *requestState) {
	verb := "other"
	if state.info != nil {
		verb = metricVerb(state.info.Verb)
	}
	if status == 0 {
		status = http.StatusOK // a handler that wrote nothing answered 200
	}
	servermetrics.ProxyRequests.WithLabelValues(verb, strconv.Itoa(status)).Inc()
	if !state.longRunning {
		servermetrics.ProxyDuration.WithLabelValues(verb).Observe(d.Seconds())
	}
}

// websocketTokenPrefix marks the WebSocket subprotocol in which browsers, which cannot
// set an Authorization header on a WebSocket, send their bearer token.
const websocketTokenPrefix = "base64url.bearer.authorization.k8s.io."

// bearerToken returns the caller's bearer token from "Authorization: Bearer <token>" or,
// failing that, from the WebSocket subprotocol; "" if there is none.
func bearerToken(h http.Header) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h.Get("Authorization")), " ")
	if ok && strings.EqualFold(scheme, "bearer") {
		return strings.TrimSpace(token)
	}
	for _, header := range h.Values("Sec-WebSocket-Protocol") {
		for protocol := range strings.SplitSeq(header, ",") {
			if encoded, ok := strings.CutPrefix(strings.TrimSpace(protocol), websocketTokenPrefix); ok {
				decoded, err := base64.RawURLEncoding.DecodeString(encoded)
				if err != nil {
					return ""
				}
				return string(decoded)
			}
		}
	}
	return ""
}

// logRequest writes the audit-style line: never a token, the user only when enabled.
func (p *Proxy) logRequest(r *http.Request, status int, d time.Duration, state *requestState) {
	ctx := r.Context()
	if !p.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", status),
		slog.Duration("duration", d), slog.Bool("upgrade", isUpgrade(r)),
	}
	if info := state.info; info != nil {
		attrs = append(attrs, slog.String("verb", info.Verb), slog.String("apiGroup", info.APIGroup),
			slog.String("resource", info.Resource), slog.String("subresource", info.Subresource),
			slog.String("namespace", info.Namespace), slog.String("name", info.Name))
	}
	if state.requester != nil {
		attrs = append(attrs, p.userAttr("user", state.requester), slog.Bool("nestedImpersonation", state.nested))
	}
	if state.acting != nil && state.nested {
		attrs = append(attrs, p.userAttr("actingAs", state.acting))
	}
	if state.mode != "" {
		attrs = append(attrs, slog.String("upstreamAuth", state.mode))
	}
	if state.authenticator != "" {
		attrs = append(attrs, slog.String("jwtAuthenticator", state.authenticator))
	}
	p.log.LogAttrs(ctx, slog.LevelDebug, "impersonation proxy request", attrs...)
}

func (p *Proxy) userAttr(key string, u user.Info) slog.Attr {
	if !p.cfg.LogUserInfo {
		return slog.Group(key, "username", "redacted", "groupCount", len(u.GetGroups()))
	}
	return slog.Group(key, "username", u.GetName(), "groups", u.GetGroups())
}

// statusRecorder remembers the response status for the log line. Flushing goes through
// Unwrap (http.ResponseController); hijacking is recorded as 101 Switching Protocols.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the first status written.
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200.
func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Hijack hands the connection over for a protocol upgrade.
func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err == nil && s.status == 0 {
		s.status = http.StatusSwitchingProtocols
	}
	return conn, rw, err
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
