// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"net/http"
	"net/url"
	"time"

	"github.com/selkie-dev/selkie/pkg/ratelimit"
)

// OAuth 2.0 error codes used here.
const (
	errInvalidRequest          = "invalid_request"
	errInvalidClient           = "invalid_client"
	errInvalidGrant            = "invalid_grant"
	errUnauthorizedClient      = "unauthorized_client"
	errUnsupportedGrantType    = "unsupported_grant_type"
	errUnsupportedResponseType = "unsupported_response_type"
	errInvalidScope            = "invalid_scope"
	errAccessDenied            = "access_denied"
	errLoginRequired           = "login_required"
	errServerError             = "server_error"
	errRequestUnauthorized     = "request_unauthorized"
	// RFC 8628 §3.5 answers to a device polling the token endpoint.
	errAuthorizationPending = "authorization_pending"
	errSlowDown             = "slow_down"
	errExpiredToken         = "expired_token"
	// errUpstreamRefresh is the reference's code for a failed upstream re-validation.
	errUpstreamRefresh = "error"
	// errTooManyRequests answers 429 with Retry-After (a rate limit).
	errTooManyRequests = "too_many_requests"
)

// oauthError is an RFC 6749 error answer.
type oauthError struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	status      int
	retryAfter  time.Duration
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func newError(code, description string) *oauthError {
	status := http.StatusBadRequest
	switch code {
	case errInvalidClient, errUpstreamRefresh:
		status = http.StatusUnauthorized
	case errServerError:
		status = http.StatusInternalServerError
	}
	return &oauthError{Code: code, Description: description, status: status}
}

// tooManyRequests is a rate limit's answer: retry after wait.
func tooManyRequests(wait time.Duration) *oauthError {
	return &oauthError{Code: errTooManyRequests, Description: "too many requests: try again later", status: http.StatusTooManyRequests, retryAfter: wait}
}

// write sends e as JSON (token endpoint, and authorize errors that cannot be redirected).
func (e *oauthError) write(w http.ResponseWriter) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", ratelimit.RetryAfter(e.retryAfter))
	}
	if e.status == http.StatusUnauthorized && e.Code == errInvalidClient {
		w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
	}
	writeJSON(w, e.status, e)
}

// withParams returns uri with params added to its query.
func withParams(uri string, params url.Values) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	q := u.Query()
	for k, vs := range params {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}
