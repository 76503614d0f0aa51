// SPDX-License-Identifier: Apache-2.0

package credentialrequest

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/audit"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/selkie-dev/selkie/pkg/aggregatedapi"
	"github.com/selkie-dev/selkie/pkg/apis/concierge/login"
	"github.com/selkie-dev/selkie/pkg/certauthority"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator"
	"github.com/selkie-dev/selkie/pkg/concierge/registry/createonly"
	"github.com/selkie-dev/selkie/pkg/logfingerprint"
	"github.com/selkie-dev/selkie/pkg/ratelimit"
	"github.com/selkie-dev/selkie/pkg/servermetrics"
)

// FailureMessage is the only thing a client learns about a failed login.
const FailureMessage = "authentication failed"

// credentialIDExtra is the one user extra a certificate may drop without changing
// who the user is: the API server adds it itself for every credential.
const credentialIDExtra = "authentication.kubernetes.io/credential-id"

// Authenticators finds the live authenticator a request names.
type Authenticators interface {
	Get(key authenticator.Key) (authenticator.Token, bool)
}

// Issuer signs a client certificate for an authenticated user.
type Issuer interface {
	IssueClientCert(ctx context.Context, username string, groups []string) (*certauthority.KeyPair, error)
}

// REST is the TokenCredentialRequest storage.
type REST struct {
	createonly.Storage[login.TokenCredentialRequest, *login.TokenCredentialRequest, login.TokenCredentialRequestList, *login.TokenCredentialRequestList]
	authenticators Authenticators
	issuer         Issuer
	log            *slog.Logger
	logUserInfo    bool
	fingerprint    *logfingerprint.Key
	failures       *ratelimit.Limiter
}

var _ interface {
	rest.Creater
	rest.Scoper
	rest.Storage
	rest.Lister
	rest.SingularNameProvider
} = (*REST)(nil)

// Options configures NewREST.
type Options struct {
	// Log receives one audit line per request; tokens are never logged, only their
	// keyed fingerprint.
	Log *slog.Logger
	// Fingerprint keys the tokens' fingerprints; nil draws a key for this process.
	Fingerprint *logfingerprint.Key
	// Failures limits failed logins per client address: past the burst a request is
	// answered 429 before its token is checked (so a webhook authenticator is not called).
	Failures ratelimit.Rule
	// LogUserInfo puts usernames and groups in audit lines; off, they are redacted.
	LogUserInfo bool
}

// NewREST returns the storage for the group resource gr.
func NewREST(authenticators Authenticators, issuer Issuer, gr schema.GroupResource, opts Options) *REST {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fp := opts.Fingerprint
	if fp == nil {
		fp = logfingerprint.Random()
	}
	return &REST{authenticators: authenticators, issuer: issuer, log: log, logUserInfo: opts.LogUserInfo,
		fingerprint: fp, failures: ratelimit.New(opts.Failures, 0, nil), Storage: createonly.New[login.TokenCredentialRequest, *login.TokenCredentialRequest, login.TokenCredentialRequestList, *login.TokenCredentialRequestList](gr, "tokencredentialrequest")}
}

// Create authenticates the token and, on success, returns a client certificate. Request
// errors (namespace, dry run, empty token) are API errors; every authentication or
// issuing failure is a 201 with the generic message.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	req, err := r.validate(ctx, obj, createValidation, options)
	if err != nil {
		return nil, err
	}
	addr := aggregatedapi.ClientAddressFrom(ctx)
	if ok, wait := r.failures.Check(addr); !ok {
		servermetrics.TokenCredentialRequests.WithLabelValues("", "", servermetrics.Failure, servermetrics.ReasonRateLimited).Inc()
		r.log.LogAttrs(ctx, slog.LevelInfo, "token credential request rate limited",
			slog.String("auditID", string(audit.GetAuditIDTruncated(ctx))), slog.String("clientAddress", addr))
		return nil, apierrors.NewTooManyRequests("too many failed logins from this address; try again later", int(math.Ceil(wait.Seconds())))
	}
	start := time.Now()
	res := r.exchange(ctx, req)
	cred, reason, attrs := res.cred, res.reason, res.attrs
	outcome := servermetrics.Success
	if cred == nil {
		outcome = servermetrics.Failure
	}
	servermetrics.TokenCredentialRequests.WithLabelValues(res.kind, res.name, outcome, res.code).Inc()
	attrs = append(attrs,
		slog.String("auditID", string(audit.GetAuditIDTruncated(ctx))),
		slog.String("tokenFingerprint", r.fingerprint.Of(req.Spec.Token)),
		slog.Duration("duration", time.Since(start)))
	if cred == nil {
		r.failures.Fail(addr)
		r.log.LogAttrs(ctx, slog.LevelInfo, "token credential request failed", append(attrs, slog.String("reason", reason))...)
		msg := FailureMessage
		return &login.TokenCredentialRequest{Status: login.TokenCredentialRequestStatus{Message: &msg}}, nil
	}
	r.log.LogAttrs(ctx, slog.LevelInfo, "token credential request succeeded",
		append(attrs, slog.Time("expires", cred.NotAfter))...)
	return &login.TokenCredentialRequest{Status: login.TokenCredentialRequestStatus{Credential: &login.ClusterCredential{
		ExpirationTimestamp:   metav1.NewTime(cred.NotAfter),
		ClientCertificateData: string(cred.CertPEM),
		ClientKeyData:         string(cred.KeyPEM),
	}}}, nil
}

func (r *REST) validate(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (*login.TokenCredentialRequest, error) {
	req, err := createonly.CheckRequest[login.TokenCredentialRequest](ctx, login.Kind("TokenCredentialRequest"), obj, options)
	if err != nil {
		return nil, err
	}
	if req.Spec.Token == "" {
		return nil, apierrors.NewInvalid(login.Kind("TokenCredentialRequest"), req.Name,
			field.ErrorList{field.Required(field.NewPath("spec", "token", "value"), "token must be supplied")})
	}
	if createValidation != nil {
		// Admission sees the request without its token.
		blanked := req.DeepCopy()
		blanked.Spec.Token = ""
		if err := createValidation(ctx, blanked); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// exchangeResult is a credential, or nil and the audited reason with its metric code
// (servermetrics.Reason*); kind and name label the metrics once the authenticator was
// found (the request's own values are not bounded).
type exchangeResult struct {
	cred         *certauthority.KeyPair
	reason, code string
	kind, name   string
	attrs        []slog.Attr
}

func (e exchangeResult) fail(code, reason string) exchangeResult {
	e.code, e.reason = code, reason
	return e
}

// exchange authenticates the request's token and issues its credential.
func (r *REST) exchange(ctx context.Context, req *login.TokenCredentialRequest) exchangeResult {
	key := authenticator.Key{Kind: req.Spec.Authenticator.Kind, Name: req.Spec.Authenticator.Name}
	if g := req.Spec.Authenticator.APIGroup; g != nil {
		key.APIGroup = *g
	}
	res := exchangeResult{attrs: []slog.Attr{slog.Group("authenticator", "apiGroup", key.APIGroup, "kind", key.Kind, "name", key.Name)}}
	authn, ok := r.authenticators.Get(key)
	if !ok {
		return res.fail(servermetrics.ReasonAuthenticatorNotFound, "no ready authenticator with that apiGroup, kind and name")
	}
	res.kind, res.name = key.Kind, key.Name
	resp, ok, err := authn.AuthenticateToken(ctx, req.Spec.Token)
	switch {
	case err != nil:
		return res.fail(servermetrics.ReasonTokenRejected, "token rejected: "+err.Error())
	case !ok || resp == nil || resp.User == nil:
		return res.fail(servermetrics.ReasonTokenRejected, "token rejected")
	}
	u := resp.User
	res.attrs = append(res.attrs, r.userAttrs(u.GetName(), u.GetGroups()))
	if reason := authenticator.ReservedIdentity(u.GetName(), u.GetGroups()); reason != "" {
		return res.fail(servermetrics.ReasonReservedIdentity, reason)
	}
	if reason := unsupportedUser(u.GetName(), u.GetUID(), u.GetExtra()); reason != "" {
		return res.fail(servermetrics.ReasonUnsupportedUser, reason)
	}
	cred, err := r.issuer.IssueClientCert(ctx, u.GetName(), u.GetGroups())
	if err != nil {
		return res.fail(servermetrics.ReasonIssueFailed, "could not issue a certificate: "+err.Error())
	}
	res.cred, res.code = cred, servermetrics.ReasonNone
	return res
}

// unsupportedUser says why a certificate cannot represent this user, or "".
func unsupportedUser(name, uid string, extra map[string][]string) string {
	switch {
	case name == "":
		return "authenticated user has an empty username"
	case uid != "":
		return "authenticated user has a UID, which a certificate cannot carry"
	}
	for k := range extra {
		if k != credentialIDExtra {
			return fmt.Sprintf("authenticated user has extra %q, which a certificate cannot carry", k)
		}
	}
	return ""
}

func (r *REST) userAttrs(name string, groups []string) slog.Attr {
	if !r.logUserInfo {
		return slog.Group("user", "username", "redacted", "groupCount", len(groups))
	}
	return slog.Group("user", "username", name, "groups", groups)
}
