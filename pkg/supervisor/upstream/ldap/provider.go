// SPDX-License-Identifier: Apache-2.0

package ldap

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	ldapv3 "github.com/go-ldap/ldap/v3"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// DefaultMaxGroups is how many groups a user may have when Config.MaxGroups is zero.
// More is an error rather than an identity too large for a token or a session.
const DefaultMaxGroups = 1000

// attributeDN stands for the entry's distinguished name wherever an attribute is named.
const attributeDN = "dn"

// placeholder is replaced in search filters by an escaped value.
const placeholder = "{}"

// noAttributes requests no attributes at all (RFC 4511 §4.5.1.8).
const noAttributes = "1.1"

// UserSearch says how users are found (spec.userSearch).
type UserSearch struct {
	// Base is the DN under which users are searched.
	Base string
	// Filter finds the user; "{}" is replaced by the typed username. Empty means
	// "<UsernameAttribute>={}".
	Filter string
	// UsernameAttribute and UIDAttribute name the entry's attributes that become the
	// username and the stable ID ("dn" for the entry's DN). Names are case-sensitive.
	UsernameAttribute string
	UIDAttribute      string
}

// GroupSearch says how a user's groups are found (spec.groupSearch).
type GroupSearch struct {
	// Base is the DN under which groups are searched; empty means no groups.
	Base string
	// Filter finds the user's groups; "{}" is replaced by the user's
	// UserAttributeForFilter value. Empty means "member={}".
	Filter string
	// UserAttributeForFilter names the user attribute substituted into Filter; empty
	// means "dn".
	UserAttributeForFilter string
	// GroupNameAttribute names the group attribute that becomes the group name; empty
	// means "dn".
	GroupNameAttribute string
	// SkipGroupRefresh keeps the login-time groups on refresh.
	SkipGroupRefresh bool
}

// Config is what a Provider is built from: an LDAPIdentityProvider, its bind Secret
// and the protocol the controller's probe found.
type Config struct {
	// Namespace, Name and UID identify the LDAPIdentityProvider.
	Namespace string
	Name      string
	UID       string
	// Endpoint is where the server is and how to reach it (Protocol must be set).
	Endpoint Endpoint
	// Dial opens connections; nil means Dial.
	Dial DialFunc
	// BindUsername and BindPassword are the service account the searches run as.
	BindUsername string
	BindPassword string
	UserSearch   UserSearch
	GroupSearch  GroupSearch
	// MaxGroups caps the groups of a user; zero means DefaultMaxGroups.
	MaxGroups int
	// ActiveDirectory selects the Active Directory behaviour (see activedirectory.go):
	// its search defaults, objectGUID and group name rendering, type and refresh checks.
	// The search bases must be set: the controller fills them from the root DSE.
	ActiveDirectory bool
}

// Provider is a live upstream LDAP identity provider. It is safe for concurrent use:
// every login and refresh opens its own connection.
type Provider struct {
	namespace, name, uid string
	endpoint             Endpoint
	dial                 DialFunc
	bindUsername         string
	bindPassword         string
	user                 UserSearch
	group                GroupSearch
	maxGroups            int
	activeDirectory      bool
}

var _ interface {
	upstream.PasswordIdentityProvider
	upstream.Refresher
} = (*Provider)(nil)

// New checks cfg, applies the search defaults and builds the provider.
func New(cfg Config) (*Provider, error) {
	if _, _, err := SplitHost(cfg.Endpoint.Host); err != nil {
		return nil, fmt.Errorf("new LDAP provider: %w", err)
	}
	if cfg.Endpoint.Protocol != LDAPS && cfg.Endpoint.Protocol != StartTLS {
		return nil, fmt.Errorf("new LDAP provider: unknown protocol %q", cfg.Endpoint.Protocol)
	}
	if cfg.BindUsername == "" || cfg.BindPassword == "" {
		return nil, errors.New("new LDAP provider: the bind username and password are required")
	}
	user, group := cfg.UserSearch, cfg.GroupSearch
	if cfg.ActiveDirectory {
		user, group = withActiveDirectoryDefaults(user, group)
	}
	user, group, err := withDefaults(user, group)
	if err != nil {
		return nil, fmt.Errorf("new LDAP provider: %w", err)
	}
	p := &Provider{
		namespace: cfg.Namespace, name: cfg.Name, uid: cfg.UID,
		endpoint: cfg.Endpoint, dial: cfg.Dial,
		bindUsername: cfg.BindUsername, bindPassword: cfg.BindPassword,
		user: user, group: group, maxGroups: cfg.MaxGroups,
		activeDirectory: cfg.ActiveDirectory,
	}
	if p.dial == nil {
		p.dial = Dial
	}
	if p.maxGroups <= 0 {
		p.maxGroups = DefaultMaxGroups
	}
	return p, nil
}

// withDefaults checks the searches and fills in the defaults of docs/wire-contract.md §1.8.
func withDefaults(user UserSearch, group GroupSearch) (UserSearch, GroupSearch, error) {
	switch {
	case user.Base == "":
		return user, group, errors.New("spec.userSearch.base is required")
	case user.UsernameAttribute == "":
		return user, group, errors.New("spec.userSearch.attributes.username is required")
	case user.UIDAttribute == "":
		return user, group, errors.New("spec.userSearch.attributes.uid is required")
	case user.Filter == "" && user.UsernameAttribute == attributeDN:
		return user, group, errors.New("spec.userSearch.filter is required when spec.userSearch.attributes.username is dn")
	}
	if user.Filter == "" {
		user.Filter = user.UsernameAttribute + "=" + placeholder
	}
	if group.Filter == "" {
		group.Filter = idpv1alpha1.LDAPDefaultGroupSearchFilter
	}
	if group.UserAttributeForFilter == "" {
		group.UserAttributeForFilter = idpv1alpha1.LDAPDefaultUserAttributeForFilter
	}
	if group.GroupNameAttribute == "" {
		group.GroupNameAttribute = idpv1alpha1.LDAPDefaultGroupNameAttribute
	}
	user.Filter, group.Filter = parenthesized(user.Filter), parenthesized(group.Filter)
	if _, err := ldapv3.CompileFilter(fillFilter(user.Filter, "x")); err != nil {
		return user, group, fmt.Errorf("spec.userSearch.filter is not a valid LDAP filter: %w", err)
	}
	if group.Base != "" {
		if _, err := ldapv3.CompileFilter(fillFilter(group.Filter, "x")); err != nil {
			return user, group, fmt.Errorf("spec.groupSearch.filter is not a valid LDAP filter: %w", err)
		}
	}
	return user, group, nil
}

// parenthesized wraps a filter written without its outer parentheses ("uid={}").
func parenthesized(filter string) string {
	if strings.HasPrefix(filter, "(") {
		return filter
	}
	return "(" + filter + ")"
}

// fillFilter replaces every placeholder in filter by value, escaped for an LDAP filter
// (RFC 4515): whatever a user types is matched literally, never parsed as filter syntax.
func fillFilter(filter, value string) string {
	return strings.ReplaceAll(filter, placeholder, ldapv3.EscapeFilter(value))
}

// Type returns upstream.TypeLDAP, or upstream.TypeActiveDirectory for Active Directory.
func (p *Provider) Type() string {
	if p.activeDirectory {
		return upstream.TypeActiveDirectory
	}
	return upstream.TypeLDAP
}

// Namespace returns the LDAPIdentityProvider's namespace.
func (p *Provider) Namespace() string { return p.namespace }

// Name returns the LDAPIdentityProvider's (or ActiveDirectoryIdentityProvider's) name.
func (p *Provider) Name() string { return p.name }

// UID returns the LDAPIdentityProvider's UID.
func (p *Provider) UID() string { return p.uid }

// Host returns spec.host.
func (p *Provider) Host() string { return p.endpoint.Host }

// Protocol returns how connections are secured.
func (p *Provider) Protocol() Protocol { return p.endpoint.Protocol }

// Flows returns cli_password then browser_authcode (the login form), in the
// server's order of preference (docs/wire-contract.md §2.3).
func (p *Provider) Flows() []string {
	return []string{upstream.FlowCLIPassword, upstream.FlowBrowserAuthcode}
}

// DownstreamSubject returns
// "ldaps://<host>?base=<user search base>&idpName=<displayName>&sub=<uid>", the query
// form-encoded with sorted keys and the scheme ldaps even over StartTLS (docs/wire-contract.md
// §2.8). id.Subject is already the base64url of the raw UID.
func (p *Provider) DownstreamSubject(displayName string, id *upstream.Identity) string {
	q := url.Values{"base": {p.user.Base}, "idpName": {displayName}, "sub": {id.Subject}}
	return (&url.URL{Scheme: "ldaps", Host: p.endpoint.Host}).String() + "?" + q.Encode()
}

// connect dials the server and binds as the service account.
func (p *Provider) connect(ctx context.Context) (Conn, error) {
	conn, err := p.dial(ctx, p.endpoint)
	if err != nil {
		return nil, err
	}
	if err := conn.Bind(p.bindUsername, p.bindPassword); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("bind as the service account %q: %w", p.bindUsername, err)
	}
	return conn, nil
}

// userAttributes are the attributes a user search requests: those that become the
// identity and the one substituted into the group filter ("1.1", none, when every one
// of them is the DN).
func (p *Provider) userAttributes() []string {
	var attrs []string
	wanted := []string{p.user.UsernameAttribute, p.user.UIDAttribute, p.group.UserAttributeForFilter}
	if p.activeDirectory {
		wanted = append(wanted, activeDirectoryRefreshAttributes()...)
	}
	for _, a := range wanted {
		if a != attributeDN && !slices.Contains(attrs, a) {
			attrs = append(attrs, a)
		}
	}
	if len(attrs) == 0 {
		return []string{noAttributes}
	}
	return attrs
}

// timeLimit is the server-side time limit of a search, in seconds.
func (p *Provider) timeLimit() int {
	return max(1, int(p.endpoint.timeout().Seconds()))
}
