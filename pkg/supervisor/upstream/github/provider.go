// SPDX-License-Identifier: Apache-2.0

package github

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// scopes are requested at authorize: the user's profile and their organization
// and team memberships. GitHub Apps ignore scopes and use their permissions.
const scopes = "read:user read:org"

// Config is what a Provider is built from: a GitHubIdentityProvider and its
// client Secret.
type Config struct {
	// Namespace, Name and UID identify the GitHubIdentityProvider.
	Namespace string
	Name      string
	UID       string
	// Host is spec.githubAPI.host; empty means github.com.
	Host string
	// HTTPClient reaches GitHub with the configured TLS trust.
	HTTPClient *http.Client
	// ClientID and ClientSecret are the GitHub App or OAuth App credentials.
	ClientID     string
	ClientSecret string
	// Claims selects the username and group name attributes; empty fields take
	// the API defaults (login:id, slug).
	Claims idpv1alpha1.GitHubClaims
	// Organizations is the organization policy.
	Organizations idpv1alpha1.GitHubOrganizationsSpec
}

// Provider is a live GitHub identity provider. It is safe for concurrent use.
type Provider struct {
	namespace, name, uid   string
	endpoints              endpoints
	client                 *http.Client
	clientID, clientSecret string
	username               idpv1alpha1.GitHubUsernameAttribute
	groups                 idpv1alpha1.GitHubGroupNameAttribute
	policy                 policy
}

var _ interface {
	upstream.RedirectIdentityProvider
	upstream.Refresher
	upstream.Revoker
} = (*Provider)(nil)

// New builds a provider from cfg, rejecting what the reconciler's conditions reject.
func New(cfg Config) (*Provider, error) {
	ep, err := endpointsFor(cfg.Host)
	if err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		return nil, errors.New("new GitHub provider: no HTTP client")
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("new GitHub provider: client ID and client secret are required")
	}
	username, groups, err := claimsOf(cfg.Claims)
	if err != nil {
		return nil, err
	}
	pol, err := policyOf(cfg.Organizations)
	if err != nil {
		return nil, err
	}
	return &Provider{
		namespace: cfg.Namespace, name: cfg.Name, uid: cfg.UID,
		endpoints: ep, client: cfg.HTTPClient,
		clientID: cfg.ClientID, clientSecret: cfg.ClientSecret,
		username: username, groups: groups, policy: pol,
	}, nil
}

// Type returns upstream.TypeGitHub.
func (p *Provider) Type() string { return upstream.TypeGitHub }

// Namespace returns the GitHubIdentityProvider's namespace.
func (p *Provider) Namespace() string { return p.namespace }

// Name returns the GitHubIdentityProvider's name.
func (p *Provider) Name() string { return p.name }

// UID returns the GitHubIdentityProvider's UID.
func (p *Provider) UID() string { return p.uid }

// APIBase returns the REST API base URL.
func (p *Provider) APIBase() string { return p.endpoints.api }

// Flows returns browser_authcode: GitHub has no password grant.
func (p *Provider) Flows() []string { return []string{upstream.FlowBrowserAuthcode} }

// DownstreamSubject returns "<API base>?idpName=<displayName>&login=<login>&id=<id>"
// with the values query-escaped (docs/wire-contract.md §2.8). The subject of a GitHub
// identity is the user ID; the login comes from its UpstreamData.
func (p *Provider) DownstreamSubject(displayName string, id *upstream.Identity) string {
	login := ""
	if d, err := parseUpstreamData(id.UpstreamData, p.endpoints.api); err == nil {
		login = d.Login
	}
	return p.endpoints.api + "?idpName=" + url.QueryEscape(displayName) +
		"&login=" + url.QueryEscape(login) + "&id=" + url.QueryEscape(id.Subject)
}

// AuthorizeURL returns GitHub's authorize URL for req. GitHub's OAuth web flow
// takes no nonce and is not OIDC; the supervisor's state still protects the
// callback, and the code is redeemed with the client secret, so the PKCE
// challenge and the nonce are not sent.
func (p *Provider) AuthorizeURL(req upstream.AuthorizeRequest) string {
	q := url.Values{
		"client_id":    {p.clientID},
		"redirect_uri": {req.RedirectURI},
		"state":        {req.State},
		"scope":        {scopes},
	}
	return p.endpoints.authorize + "?" + q.Encode()
}

// claimsOf resolves the defaults of spec.claims and rejects unknown values.
func claimsOf(c idpv1alpha1.GitHubClaims) (idpv1alpha1.GitHubUsernameAttribute, idpv1alpha1.GitHubGroupNameAttribute, error) {
	username, groups := c.Username, c.Groups
	if username == "" {
		username = idpv1alpha1.GitHubUsernameLoginAndID
	}
	if groups == "" {
		groups = idpv1alpha1.GitHubGroupNameSlug
	}
	if !slices.Contains([]idpv1alpha1.GitHubUsernameAttribute{idpv1alpha1.GitHubUsernameID,
		idpv1alpha1.GitHubUsernameLogin, idpv1alpha1.GitHubUsernameLoginAndID}, username) {
		return "", "", errors.New(`spec.claims.username must be one of "id", "login" or "login:id", not ` + quote(string(username)))
	}
	if groups != idpv1alpha1.GitHubGroupNameName && groups != idpv1alpha1.GitHubGroupNameSlug {
		return "", "", errors.New(`spec.claims.groups must be "name" or "slug", not ` + quote(string(groups)))
	}
	return username, groups, nil
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }
