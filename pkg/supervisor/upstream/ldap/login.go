// SPDX-License-Identifier: Apache-2.0

package ldap

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"

	ldapv3 "github.com/go-ldap/ldap/v3"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// user is what a user entry says about the user.
type user struct {
	dn       string
	username string
	// subject is the base64url (no padding) of the raw UID attribute.
	subject string
	// filterValue is substituted into the group search filter.
	filterValue string
	// account is the Active Directory account state (Active Directory only).
	account accountState
}

// Login finds the user by username as the service account, checks the password by
// binding as the user's DN, then searches the user's groups as the service account.
// An empty username or password, no entry, several entries and a refused bind are
// upstream.ErrBadCredentials (wrapped); anything else is the upstream failing.
func (p *Provider) Login(ctx context.Context, username, password string) (*upstream.Identity, error) {
	// An empty password would be an unauthenticated bind (RFC 4513 §5.1.2), which
	// servers accept: never send one.
	if username == "" || password == "" {
		return nil, fmt.Errorf("LDAP login: empty username or password: %w", upstream.ErrBadCredentials)
	}
	conn, err := p.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("LDAP login: %w", err)
	}
	defer func() { _ = conn.Close() }()
	entry, err := p.searchUser(conn, username)
	if err != nil {
		return nil, fmt.Errorf("LDAP login: %w", err)
	}
	u, err := p.userFromEntry(entry)
	if err != nil {
		return nil, fmt.Errorf("LDAP login: %w", err)
	}
	if err := conn.Bind(u.dn, password); err != nil {
		if ldapv3.IsErrorAnyOf(err, ldapv3.LDAPResultInvalidCredentials, ldapv3.ErrorEmptyPassword) {
			return nil, fmt.Errorf("LDAP login: the server refused the password: %w", upstream.ErrBadCredentials)
		}
		return nil, fmt.Errorf("LDAP login: bind as the user: %w", err)
	}
	var groups []string
	if p.group.Base != "" {
		// Searches run with the service account's rights, at login as on refresh.
		if err := conn.Bind(p.bindUsername, p.bindPassword); err != nil {
			return nil, fmt.Errorf("LDAP login: bind again as the service account: %w", err)
		}
		if groups, err = p.searchGroups(conn, u.filterValue); err != nil {
			return nil, fmt.Errorf("LDAP login: %w", err)
		}
	}
	return p.identity(u, groups)
}

// searchUser returns the one entry under the user search base that the filter matches
// for username. No entry or several are bad credentials.
func (p *Provider) searchUser(conn Conn, username string) (*ldapv3.Entry, error) {
	// A size limit of 2 is enough to tell "one" from "several".
	req := ldapv3.NewSearchRequest(p.user.Base, ldapv3.ScopeWholeSubtree, ldapv3.NeverDerefAliases, 2, p.timeLimit(), false,
		fillFilter(p.user.Filter, username), p.userAttributes(), nil)
	res, err := conn.Search(req)
	switch {
	case ldapv3.IsErrorWithCode(err, ldapv3.LDAPResultSizeLimitExceeded):
		return nil, fmt.Errorf("the user search found several entries: %w", upstream.ErrBadCredentials)
	case err != nil:
		return nil, fmt.Errorf("user search: %w", err)
	case len(res.Entries) == 0:
		return nil, fmt.Errorf("the user search found no entry: %w", upstream.ErrBadCredentials)
	case len(res.Entries) > 1:
		return nil, fmt.Errorf("the user search found several entries: %w", upstream.ErrBadCredentials)
	}
	return res.Entries[0], nil
}

// userFromEntry reads the username, UID and group filter value of a user entry; each
// must have exactly one value.
func (p *Provider) userFromEntry(entry *ldapv3.Entry) (*user, error) {
	if entry.DN == "" {
		return nil, errors.New("the user entry has no DN")
	}
	username, err := attribute(entry, p.user.UsernameAttribute)
	if err != nil {
		return nil, err
	}
	uid, err := attribute(entry, p.user.UIDAttribute)
	if err != nil {
		return nil, err
	}
	u := &user{dn: entry.DN, username: string(username), subject: base64.RawURLEncoding.EncodeToString(uid)}
	if p.activeDirectory {
		if u.subject, err = activeDirectoryUID(p.user.UIDAttribute, uid); err != nil {
			return nil, fmt.Errorf("the entry %q: %w", entry.DN, err)
		}
		u.account = readAccountState(entry)
	}
	if p.group.Base != "" {
		value, err := attribute(entry, p.group.UserAttributeForFilter)
		if err != nil {
			return nil, err
		}
		u.filterValue = string(value)
	}
	return u, nil
}

// attribute returns the single raw value of the attribute name (case-sensitive) of
// entry, or its DN for "dn".
func attribute(entry *ldapv3.Entry, name string) ([]byte, error) {
	if name == attributeDN {
		return []byte(entry.DN), nil
	}
	values := entry.GetRawAttributeValues(name)
	if len(values) != 1 || len(values[0]) == 0 {
		return nil, fmt.Errorf("the entry %q has %d values of attribute %q, want exactly one non-empty value", entry.DN, len(values), name)
	}
	return values[0], nil
}

// searchGroups returns the sorted names of the groups the group filter matches for the
// user's filter value, at most maxGroups of them.
func (p *Provider) searchGroups(conn Conn, filterValue string) ([]string, error) {
	attrs := []string{noAttributes}
	// Extensible matches such as Active Directory's LDAP_MATCHING_RULE_IN_CHAIN
	// (member:1.2.840.113556.1.4.1941:=) need nothing here: the server evaluates them.
	if p.group.GroupNameAttribute != attributeDN {
		attrs = []string{p.group.GroupNameAttribute}
	}
	req := ldapv3.NewSearchRequest(p.group.Base, ldapv3.ScopeWholeSubtree, ldapv3.NeverDerefAliases, p.maxGroups+1, p.timeLimit(), false,
		fillFilter(p.group.Filter, filterValue), attrs, nil)
	res, err := conn.Search(req)
	tooMany := fmt.Errorf("group search: the user is a member of more than %d groups (or the server's size limit is lower); "+
		"narrow spec.groupSearch.base or spec.groupSearch.filter", p.maxGroups)
	switch {
	case ldapv3.IsErrorWithCode(err, ldapv3.LDAPResultSizeLimitExceeded):
		return nil, tooMany
	case err != nil:
		return nil, fmt.Errorf("group search: %w", err)
	case len(res.Entries) > p.maxGroups:
		return nil, tooMany
	}
	groups := make([]string, 0, len(res.Entries))
	for _, e := range res.Entries {
		name, err := attribute(e, p.group.GroupNameAttribute)
		if err != nil {
			return nil, fmt.Errorf("group search: %w", err)
		}
		group := string(name)
		if p.activeDirectory && p.group.GroupNameAttribute == idpv1alpha1.ActiveDirectoryDefaultGroupNameAttribute {
			if group, err = groupNameWithDomain(group, e.DN); err != nil {
				return nil, fmt.Errorf("group search: %w", err)
			}
		}
		groups = append(groups, group)
	}
	slices.Sort(groups)
	return slices.Compact(groups), nil
}

// identity builds the identity of u with its UpstreamData.
func (p *Provider) identity(u *user, groups []string) (*upstream.Identity, error) {
	data, err := (&upstreamData{Version: upstreamDataVersion, DN: u.dn, UID: u.subject, PwdLastSet: u.account.pwdLastSet}).marshal()
	if err != nil {
		return nil, err
	}
	return &upstream.Identity{Subject: u.subject, Username: u.username, Groups: groups, UpstreamData: data}, nil
}
