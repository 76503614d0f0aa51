// SPDX-License-Identifier: Apache-2.0

package oidc

import (
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"
)

// TokenEndpointError is an error response of the upstream token endpoint. Unlike
// oauth2.RetrieveError it keeps no response body, which could echo secrets.
type TokenEndpointError struct {
	// Op is what was attempted ("refresh upstream tokens").
	Op string
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// Code and Description are RFC 6749's error and error_description.
	Code        string
	Description string
}

// Error describes the response without secrets.
func (e *TokenEndpointError) Error() string {
	msg := fmt.Sprintf("%s: upstream token endpoint responded %d %s", e.Op, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		msg += fmt.Sprintf(": %s", e.Code)
	}
	if e.Description != "" {
		d := e.Description
		if len(d) > maxErrorMessage {
			d = d[:maxErrorMessage] + "…"
		}
		msg += fmt.Sprintf(" (%s)", d)
	}
	return msg
}

// tokenRequestError returns err of a token request for op, replacing an
// oauth2.RetrieveError by a TokenEndpointError.
func tokenRequestError(op string, err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fmt.Errorf("%s: %w", op, err)
	}
	e := &TokenEndpointError{Op: op, Code: re.ErrorCode, Description: re.ErrorDescription}
	if re.Response != nil {
		e.StatusCode = re.Response.StatusCode
	}
	return e
}

// isBadCredentials reports whether err of a password grant means the user's
// credentials were rejected: invalid_grant, or a 401 not blamed on the client.
func isBadCredentials(err error) bool {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return false
	}
	if re.ErrorCode == "invalid_grant" {
		return true
	}
	return re.Response != nil && re.Response.StatusCode == http.StatusUnauthorized && re.ErrorCode != "invalid_client"
}
