// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/anonymous"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/request/union"
	"k8s.io/apiserver/pkg/authentication/request/websocket"
	x509request "k8s.io/apiserver/pkg/authentication/request/x509"
	tokencache "k8s.io/apiserver/pkg/authentication/token/cache"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	webhooktoken "k8s.io/apiserver/plugin/pkg/authenticator/token/webhook"

	conciergeauthn "github.com/selkie-dev/selkie/pkg/concierge/authenticator"
	"github.com/selkie-dev/selkie/pkg/ratelimit"
)

// The API server publishes the CA it trusts for client certificates here.
const (
	clientCANamespace = metav1.NamespaceSystem
	clientCAConfigMap = "extension-apiserver-authentication"
	clientCAKey       = "client-ca-file"
)

// authenticators are the proxy's two views of authentication: the full chain for incoming
// requests, and the bearer-token part alone, used to re-check a token before passing it
// through.
type authenticators struct {
	request authenticator.Request
	token   authenticator.Request
}

// newAuthenticators builds kube-apiserver's delegated authentication from k8s.io/apiserver
// parts: client certificates from either CA, then bearer tokens (header or WebSocket
// protocol) by TokenReview without audiences and, failing that, by the JWTAuthenticators
// of the token's issuer (reviewThenJWT), everyone so far in system:authenticated,
// and anonymous last: a request without credentials is system:anonymous here, and the
// proxy forwards it without credentials of its own (see withAnonymous) so that the API
// server applies its own anonymous policy.
func newAuthenticators(cfg *Config, signer, clusterCA dynamiccertificates.CAContentProvider) (authenticators, error) {
	review, err := webhooktoken.NewFromInterface(cfg.Kube.AuthenticationV1(), nil, webhookBackoff(), webhookTimeout,
		webhooktoken.AuthenticatorMetrics{
			RecordRequestTotal:   func(context.Context, string) {},
			RecordRequestLatency: func(context.Context, string, float64) {},
		})
	if err != nil {
		return authenticators{}, fmt.Errorf("token review authenticator: %w", err)
	}
	tokens := tokencache.New(review, false, tokenCacheTTL, tokenCacheTTL)
	bearer := authenticator.Token(tokens)
	if cfg.JWTAuthenticators != nil {
		bearer = reviewThenJWT{review: tokens, jwts: cfg.JWTAuthenticators, fingerprint: cfg.Fingerprint, log: cfg.Log}
	}
	// One x509 authenticator per CA, each with its parsed pool (a union of the two
	// providers would re-parse both bundles on every request) and its cache of verified
	// chains.
	certs := func(ca dynamiccertificates.CAContentProvider) authenticator.Request {
		return newCachedCertAuthenticator(x509request.NewDynamic(ca.VerifyOptions, x509request.CommonNameUserConversion), ca.CurrentCABundleContent, time.Now)
	}
	limiter := ratelimit.New(cfg.TokenFailures, 0, nil)
	known := group.NewAuthenticatedGroupAdder(union.New(
		issuerRouted{
			{authn: refuseReserved{certs(signer)}, bundle: signer.CurrentCABundleContent},
			{authn: certs(clusterCA), bundle: clusterCA.CurrentCABundleContent},
		},
		// One limiter around both places a bearer token can be, so that a failed token
		// counts once.
		failureLimited{union.New(bearertoken.New(bearer), websocket.NewProtocolAuthenticator(bearer)), limiter},
	))
	all := union.NewFailOnError(known, anonymous.NewAuthenticator(nil))
	return authenticators{
		request: all,
		token:   group.NewAuthenticatedGroupAdder(bearertoken.New(tokens)),
	}, nil
}

// refuseReserved refuses identities in Kubernetes' reserved system: names. It guards the
// signer CA's certificates, which carry what a token authenticator said: the
// TokenCredentialRequest refuses such users before issuing, and this holds for
// certificates issued before that rule or by a misbehaving replica. The API server's own
// client CA and TokenReview legitimately name system: users and are not wrapped.
type refuseReserved struct{ authenticator.Request }

// AuthenticateRequest authenticates r and fails reserved identities.
func (a refuseReserved) AuthenticateRequest(r *http.Request) (*authenticator.Response, bool, error) {
	resp, ok, err := a.Request.AuthenticateRequest(r)
	if err != nil || !ok {
		return resp, ok, err
	}
	if reason := conciergeauthn.ReservedIdentity(resp.User.GetName(), resp.User.GetGroups()); reason != "" {
		return nil, false, fmt.Errorf("signer certificate refused: %s", reason)
	}
	return resp, ok, err
}

// failureLimited counts, per client address, bearer tokens that fail to authenticate;
// past the limit it refuses without a TokenReview and marks the request so that the
// answer is 429 rather than 401.
type failureLimited struct {
	authenticator.Request
	limiter *ratelimit.Limiter
}

// AuthenticateRequest reviews r's bearer token unless its address is over the limit.
func (a failureLimited) AuthenticateRequest(r *http.Request) (*authenticator.Response, bool, error) {
	if a.limiter == nil || bearerToken(r.Header) == "" {
		return a.Request.AuthenticateRequest(r)
	}
	key := ratelimit.ClientAddress{}.Of(r)
	if ok, wait := a.limiter.Check(key); !ok {
		if state := stateFrom(r.Context()); state != nil {
			state.retryAfter = wait
		}
		return nil, false, errTooManyTokenFailures
	}
	resp, ok, err := a.Request.AuthenticateRequest(r)
	if err != nil || !ok {
		a.limiter.Fail(key)
	}
	return resp, ok, err
}

// errTooManyTokenFailures refuses a bearer token from an address over the limit.
var errTooManyTokenFailures = errors.New("too many failed bearer tokens from this address")

// isTokenCredentialRequest matches TokenCredentialRequests under any API group suffix.
func isTokenCredentialRequest(info *request.RequestInfo) bool {
	return info.IsResourceRequest && info.Resource == "tokencredentialrequests" &&
		strings.HasPrefix(info.APIGroup, "login.concierge.")
}

// newClientCA follows the API server's client CA once runClientCA starts it.
func newClientCA(cfg *Config) (*dynamiccertificates.ConfigMapCAController, error) {
	ca, err := dynamiccertificates.NewDynamicCAFromConfigMapController("client-ca", clientCANamespace, clientCAConfigMap, clientCAKey, cfg.Kube)
	if err != nil {
		return nil, fmt.Errorf("API server client CA: %w", err)
	}
	return ca, nil
}

// runClientCA starts following the client CA until ctx ends and waits, a bounded time,
// for the first copy; certificates from that CA are refused until it arrives.
func runClientCA(ctx context.Context, cfg *Config, ca *dynamiccertificates.ConfigMapCAController) error {
	go ca.Run(ctx, 1)
	deadline := time.Now().Add(clientCAWaitTime)
	for len(ca.CurrentCABundleContent()) == 0 {
		if time.Now().After(deadline) {
			cfg.Log.WarnContext(ctx, "API server client CA not loaded yet; its certificates are refused until it is",
				"configMap", clientCANamespace+"/"+clientCAConfigMap)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
