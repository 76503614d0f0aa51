// SPDX-License-Identifier: Apache-2.0

package sessionapi

import (
	"context"
	"log/slog"

	"k8s.io/apiserver/pkg/audit"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
)

// audit writes one audit line at info: the request's audit ID (the one in the
// Kubernetes audit log), the caller and the namespace, then args. Callers pass session
// IDs and names; a session's user goes through userAttr.
func (r *REST) audit(ctx context.Context, msg string, args ...any) {
	caller := ""
	if u, ok := genericapirequest.UserFrom(ctx); ok {
		caller = u.GetName()
	}
	attrs := append([]any{slog.Bool("audit", true), slog.String("auditID", audit.GetAuditIDTruncated(ctx)),
		slog.String("caller", caller), slog.String("namespace", r.cfg.Namespace)}, args...)
	r.cfg.Log.InfoContext(ctx, msg, attrs...)
}

// userAttr describes a session's user: the username when the operator enabled it
// (--log-user-info), else only its keyed fingerprint, as the providers' audit events do,
// since a username is personal data.
func (r *REST) userAttr(username string) slog.Attr {
	if r.cfg.LogUserInfo {
		return slog.Group("user", "username", username)
	}
	return slog.Group("user", "usernameFingerprint", r.cfg.Fingerprint.Of(username))
}
