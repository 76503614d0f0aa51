// SPDX-License-Identifier: Apache-2.0

package jwt

import (
	"context"

	oidcv2 "github.com/coreos/go-oidc"
	"k8s.io/apiserver/pkg/apis/apiserver"
	"k8s.io/apiserver/plugin/pkg/authenticator/token/oidc"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator"
	"github.com/selkie-dev/selkie/pkg/internal/engine"
)

// supportedSigningAlgs are the JWS algorithms accepted in tokens: RS256, which
// OIDC requires, and ES256, which the Selkie supervisor signs with.
func supportedSigningAlgs() []string { return []string{oidcv2.RS256, oidcv2.ES256} }

// reservedIdentityRules refuse tokens whose username or a group is in Kubernetes'
// reserved "system:" namespace. An identity provider outside the cluster must never
// mint system:masters, system:nodes or a ServiceAccount name into a client
// certificate: with an upstream that lets users name their groups, that would be
// cluster-admin for the asking. Rename such groups with the supervisor's identity
// transforms (a prefix) if they are wanted.
func reservedIdentityRules() []apiserver.UserValidationRule {
	return []apiserver.UserValidationRule{
		{Expression: "!user.username.startsWith('system:')", Message: "username must not start with system: (reserved by Kubernetes)"},
		{Expression: "user.groups.all(g, !g.startsWith('system:'))", Message: "groups must not start with system: (reserved by Kubernetes)"},
	}
}

// build creates the live authenticator. Its key set is fetched from the
// validated jwks_uri (and refetched on unknown key IDs) through the client
// that trusts spec.tls; the entry's Close stops its background work.
func (p *probe) build(context.Context) (string, *engine.Failure) {
	// The authenticator outlives this reconciliation, so its lifetime is not
	// derived from the reconcile context; the cache closes it when it drops the authenticator.
	lifetime, cancel := context.WithCancel(context.Background())
	keySet := oidcv2.NewRemoteKeySet(oidcv2.ClientContext(lifetime, p.client), p.jwksURL)
	token, err := oidc.New(lifetime, oidc.Options{
		JWTAuthenticator:     apiserverAuthenticator(p.Spec),
		KeySet:               keySet,
		Client:               p.client,
		SupportedSigningAlgs: supportedSigningAlgs(),
	})
	if err != nil {
		cancel()
		return fail(authenticationv1alpha1.ReasonInvalidAuthenticator, "could not initialize the authenticator: %v", err)
	}
	client := p.client
	// Marked with its issuer: the impersonation proxy routes bearer JWTs by issuer.
	p.Built = authenticator.ForIssuer(authenticator.Closing(token, func() {
		cancel()
		client.CloseIdleConnections()
	}), p.Spec.Issuer)
	return "", nil
}
