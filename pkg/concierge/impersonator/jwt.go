// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"

	"k8s.io/apiserver/pkg/authentication/authenticator"

	conciergeauthn "github.com/selkie-dev/selkie/pkg/concierge/authenticator"
)

// JWTAuthenticators finds the live authenticators of one issuer's JWTs, with their keys;
// the concierge's authenticator cache is one.
type JWTAuthenticators interface {
	ForIssuer(issuer string) ([]conciergeauthn.Key, []conciergeauthn.Token)
}

// maxJWTPayload bounds the claims decoded to read a token's issuer (base64url
// characters); larger tokens are not routed to JWTAuthenticators.
const maxJWTPayload = 64 << 10

// reviewThenJWT authenticates a bearer token as the API server would (TokenReview) and,
// when the API server does not accept it, with the JWTAuthenticators that trust the
// issuer the token names, so that a web console's ID token works at the proxy of a
// cluster whose API server knows nothing of the issuer. The unverified issuer only picks
// the authenticators; each verifies the signature, audience, lifetime and claim rules.
// Everything the API server accepts is still accepted with the API server's mapping.
type reviewThenJWT struct {
	review      authenticator.Token
	jwts        JWTAuthenticators
	fingerprint func(token string) string
	log         *slog.Logger
}

// errJWTRefused is the error of a bearer JWT that the JWTAuthenticators of its issuer
// refused; the reasons are only logged.
var errJWTRefused = errors.New("bearer token refused by the JWTAuthenticators of its issuer")

// AuthenticateToken tries TokenReview, then the issuer's JWTAuthenticators in key order.
func (a reviewThenJWT) AuthenticateToken(ctx context.Context, token string) (*authenticator.Response, bool, error) {
	resp, ok, err := a.review.AuthenticateToken(ctx, token)
	if ok && err == nil {
		return resp, ok, err
	}
	issuer := unverifiedIssuer(token)
	if issuer == "" || a.jwts == nil {
		return resp, ok, err
	}
	keys, tokens := a.jwts.ForIssuer(issuer)
	if len(tokens) == 0 {
		return resp, ok, err
	}
	var reasons []string
	for i, t := range tokens {
		r, ok, err := t.AuthenticateToken(ctx, token)
		if err == nil && ok && r != nil && r.User != nil {
			if state := stateFrom(ctx); state != nil {
				state.authenticator = keys[i].Name
			}
			return r, true, nil
		}
		reason := "token rejected"
		if err != nil {
			reason = err.Error()
		}
		reasons = append(reasons, keys[i].Kind+"/"+keys[i].Name+": "+reason)
	}
	a.log.LogAttrs(ctx, slog.LevelInfo, "impersonation proxy bearer token refused",
		slog.String("issuer", issuer), slog.String("tokenFingerprint", a.fingerprint(token)),
		slog.String("reason", strings.Join(reasons, "; ")))
	return nil, false, errJWTRefused
}

// unverifiedIssuer returns the iss claim of a JWS compact token without verifying
// anything, or "" if token is not one.
func unverifiedIssuer(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(parts[1]) > maxJWTPayload {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Issuer string `json:"iss"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	return claims.Issuer
}
