// SPDX-License-Identifier: Apache-2.0

package oidc

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// defaultScopes are requested when a resource lists no additional scopes.
func defaultScopes() []string { return []string{"openid", "offline_access", "email", "profile"} }

// Config is what a Provider is built from: an OIDCIdentityProvider, its client
// Secret and the upstream's discovery.
type Config struct {
	// Namespace, Name and UID identify the OIDCIdentityProvider.
	Namespace string
	Name      string
	UID       string
	// Discovery is the upstream's discovery; its Issuer is the upstream issuer.
	Discovery *Discovery
	// HTTPClient reaches the upstream with the configured TLS trust; it should be the
	// client Discovery used.
	HTTPClient *http.Client
	// ClientID and ClientSecret are the upstream client credentials.
	ClientID     string
	ClientSecret string
	// AdditionalScopes are spec.authorizationConfig.additionalScopes; "openid" is
	// always requested and an empty list means "openid offline_access email profile".
	AdditionalScopes []string
	// AdditionalAuthorizeParameters are added to every authorization request.
	AdditionalAuthorizeParameters []idpv1alpha1.Parameter
	// AllowPasswordGrant enables Login (the resource owner password grant).
	AllowPasswordGrant bool
	// Claims maps upstream claims to the identity.
	Claims idpv1alpha1.OIDCClaims
	// Clock returns the current time for token expiry checks; nil means time.Now.
	Clock func() time.Time
}

// Provider is a live upstream OIDC identity provider. It is safe for concurrent use.
type Provider struct {
	namespace, name, uid   string
	discovery              *Discovery
	client                 *http.Client
	clientID, clientSecret string
	scopes                 []string
	authorizeParameters    []idpv1alpha1.Parameter
	claims                 idpv1alpha1.OIDCClaims
	verifier               *oidc.IDTokenVerifier
	clock                  func() time.Time
}

// PasswordProvider is a Provider whose resource allows the password grant; it
// adds Login and the cli_password flow.
type PasswordProvider struct {
	*Provider
}

var (
	_ interface {
		upstream.RedirectIdentityProvider
		upstream.Refresher
		upstream.Revoker
	} = (*Provider)(nil)
	_ interface {
		upstream.RedirectIdentityProvider
		upstream.PasswordIdentityProvider
		upstream.Refresher
		upstream.Revoker
	} = (*PasswordProvider)(nil)
)

// New builds a provider from cfg. It returns a *PasswordProvider when
// cfg.AllowPasswordGrant is set and a *Provider otherwise, so that callers find
// the password capability by type assertion exactly when it is enabled.
func New(cfg Config) (upstream.RedirectIdentityProvider, error) {
	if cfg.Discovery == nil || cfg.Discovery.provider == nil {
		return nil, errors.New("new OIDC provider: no discovery")
	}
	if cfg.HTTPClient == nil {
		return nil, errors.New("new OIDC provider: no HTTP client")
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("new OIDC provider: client ID and client secret are required")
	}
	if bad := disallowedParameters(cfg.AdditionalAuthorizeParameters); len(bad) > 0 {
		return nil, fmt.Errorf("new OIDC provider: disallowed additional authorize parameters %q", bad)
	}
	clock := cfg.Clock
	if clock == nil {
		clock = time.Now
	}
	claims := cfg.Claims
	claims.AdditionalClaimMappings = maps.Clone(cfg.Claims.AdditionalClaimMappings)
	p := &Provider{
		namespace: cfg.Namespace, name: cfg.Name, uid: cfg.UID,
		discovery:           cfg.Discovery,
		client:              cfg.HTTPClient,
		clientID:            cfg.ClientID,
		clientSecret:        cfg.ClientSecret,
		scopes:              scopes(cfg.AdditionalScopes),
		authorizeParameters: slices.Clone(cfg.AdditionalAuthorizeParameters),
		claims:              claims,
		clock:               clock,
	}
	p.verifier = cfg.Discovery.provider.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: clock})
	if cfg.AllowPasswordGrant {
		return &PasswordProvider{Provider: p}, nil
	}
	return p, nil
}

// scopes returns the scopes to request: "openid" first, then additional (or the
// defaults when additional is empty), without duplicates.
func scopes(additional []string) []string {
	if len(additional) == 0 {
		return defaultScopes()
	}
	out := []string{"openid"}
	for _, s := range additional {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// disallowedParameters returns the names in params that the supervisor sets itself.
func disallowedParameters(params []idpv1alpha1.Parameter) []string {
	forbidden := idpv1alpha1.ForbiddenAuthorizeParameterNames()
	var bad []string
	for _, p := range params {
		if slices.Contains(forbidden, p.Name) && !slices.Contains(bad, p.Name) {
			bad = append(bad, p.Name)
		}
	}
	return bad
}

// Type returns upstream.TypeOIDC.
func (p *Provider) Type() string { return upstream.TypeOIDC }

// Namespace returns the OIDCIdentityProvider's namespace.
func (p *Provider) Namespace() string { return p.namespace }

// Name returns the OIDCIdentityProvider's name.
func (p *Provider) Name() string { return p.name }

// UID returns the OIDCIdentityProvider's UID.
func (p *Provider) UID() string { return p.uid }

// Issuer returns the upstream issuer.
func (p *Provider) Issuer() string { return p.discovery.Issuer }

// Scopes returns the scopes requested from the upstream.
func (p *Provider) Scopes() []string { return slices.Clone(p.scopes) }

// Flows returns browser_authcode only; PasswordProvider adds cli_password.
func (p *Provider) Flows() []string { return []string{upstream.FlowBrowserAuthcode} }

// Flows returns browser_authcode and cli_password.
func (p *PasswordProvider) Flows() []string {
	return []string{upstream.FlowBrowserAuthcode, upstream.FlowCLIPassword}
}

// DownstreamSubject returns "<upstream iss>?idpName=<displayName>&sub=<upstream sub>"
// with both values query-escaped (docs/wire-contract.md §2.8).
func (p *Provider) DownstreamSubject(displayName string, id *upstream.Identity) string {
	return p.discovery.Issuer + "?idpName=" + url.QueryEscape(displayName) + "&sub=" + url.QueryEscape(id.Subject)
}

// oauth2Config returns a fresh client configuration (oauth2.Config must not be
// copied once used).
func (p *Provider) oauth2Config(redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     p.clientID,
		ClientSecret: p.clientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   p.discovery.AuthorizationEndpoint,
			TokenURL:  p.discovery.TokenEndpoint,
			AuthStyle: p.discovery.authStyle(),
		},
		RedirectURL: redirectURI,
		Scopes:      slices.Clone(p.scopes),
	}
}

// httpContext makes oauth2 and go-oidc use the provider's HTTP client.
func (p *Provider) httpContext(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, p.client)
}
