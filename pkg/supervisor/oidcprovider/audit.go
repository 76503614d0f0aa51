// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"

	"github.com/selkie-dev/selkie/pkg/servermetrics"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// HeaderAuditID carries a request's audit ID in every response, so that a user can quote
// it and an operator can find the request's audit events (CLIs print it on failure).
const HeaderAuditID = "Audit-ID"

type auditIDKey struct{}

// WithAuditID gives every request an audit ID (kept if a trusted front end set one is
// not assumed: a client-sent Audit-ID is ignored) and returns it in the Audit-ID header.
func WithAuditID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		id := hex.EncodeToString(b)
		w.Header().Set(HeaderAuditID, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), auditIDKey{}, id)))
	})
}

// AuditID returns the request's audit ID, or "".
func AuditID(ctx context.Context) string {
	id, _ := ctx.Value(auditIDKey{}).(string)
	return id
}

// audit writes one audit event: a structured line at info with the request's audit ID
// and the FederationDomain. Callers pass IDs, names and reasons, never tokens, codes or
// passwords; users go through userAttr.
func (p *Provider) audit(ctx context.Context, msg string, args ...any) {
	attrs := append([]any{slog.Bool("audit", true), slog.String("auditID", AuditID(ctx))}, args...)
	p.log.InfoContext(ctx, msg, attrs...)
}

// countLogin counts a login at idp that ended with outcome (servermetrics.Login*).
func (p *Provider) countLogin(idp *IdP, flow, outcome string) {
	servermetrics.SupervisorLogins.WithLabelValues(p.cfg.Name, idp.Provider.Name(), idp.Provider.Type(), flow, outcome).Inc()
}

// loginFailure is the login outcome of an upstream error: a refusal, or a failure to ask.
func loginFailure(err error) string {
	if errors.Is(err, upstream.ErrBadCredentials) {
		return servermetrics.LoginFailure
	}
	return servermetrics.LoginError
}

// userAttr describes the user in an audit event: username and groups when the operator
// enabled it (--log-user-info), else only a keyed fingerprint of the username (a plain
// hash of a name is reversed by hashing guesses) and the number of groups, since both are
// personal data.
func (p *Provider) userAttr(username string, groups []string) any {
	if p.cfg.LogUserInfo {
		return slog.Group("user", "username", username, "groups", groups)
	}
	return slog.Group("user", "usernameFingerprint", p.cfg.Fingerprint.Of(username), "groupCount", len(groups))
}
