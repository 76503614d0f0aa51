// SPDX-License-Identifier: Apache-2.0

package ldap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	ldapv3 "github.com/go-ldap/ldap/v3"

	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// upstreamDataVersion is the version of the UpstreamData format below.
const upstreamDataVersion = 1

// upstreamData is the JSON stored in upstream.Identity.UpstreamData by LDAP providers,
// for example
//
//	{"v":1,"dn":"uid=pinny,ou=users,dc=example,dc=com","uid":"MTAwMA"}
//
// DN is the user's entry at login; UID is the base64url of its raw UID attribute (the
// identity's Subject; for Active Directory objectGUID, the GUID string). It holds no
// secret.
type upstreamData struct {
	Version int    `json:"v"`
	DN      string `json:"dn"`
	UID     string `json:"uid"`
	// PwdLastSet is the Active Directory pwdLastSet value at login (Active Directory
	// only; a change ends the session).
	PwdLastSet string `json:"pwdLastSet,omitempty"`
}

func (d *upstreamData) marshal() ([]byte, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode upstream data: %w", err)
	}
	return b, nil
}

// parseUpstreamData decodes b. Errors never quote b.
func parseUpstreamData(b []byte) (*upstreamData, error) {
	var d upstreamData
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, errors.New("decode upstream data: not the JSON of an LDAP upstream identity")
	}
	switch {
	case d.Version != upstreamDataVersion:
		return nil, fmt.Errorf("decode upstream data: unsupported version %d", d.Version)
	case d.DN == "" || d.UID == "":
		return nil, errors.New("decode upstream data: no DN or UID")
	}
	return &d, nil
}

// Refresh re-validates previous (docs/wire-contract.md §2.9): the user's entry is read again by
// its DN and must still exist with the same username and UID; the groups are searched
// again unless SkipGroupRefresh is set, in which case the previous ones are kept. For
// Active Directory the account must also be unchanged: same pwdLastSet as at login,
// neither disabled nor locked (docs/wire-contract.md §1.8).
func (p *Provider) Refresh(ctx context.Context, previous *upstream.Identity) (*upstream.Identity, error) {
	if previous == nil {
		return nil, errors.New("refresh LDAP identity: no previous identity")
	}
	d, err := parseUpstreamData(previous.UpstreamData)
	if err != nil {
		return nil, fmt.Errorf("refresh LDAP identity: %w", err)
	}
	if d.UID != previous.Subject {
		return nil, errors.New("refresh LDAP identity: upstream data belongs to another subject")
	}
	conn, err := p.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("refresh LDAP identity: %w", err)
	}
	defer func() { _ = conn.Close() }()
	u, err := p.readUser(conn, d.DN)
	if err != nil {
		return nil, fmt.Errorf("refresh LDAP identity: %w", err)
	}
	switch {
	case u.subject != d.UID:
		return nil, errors.New("refresh LDAP identity: the user's UID changed since login")
	case u.username != previous.Username:
		return nil, errors.New("refresh LDAP identity: the username changed since login")
	}
	if p.activeDirectory {
		if err := u.account.check(d.PwdLastSet); err != nil {
			return nil, fmt.Errorf("refresh LDAP identity: %w", err)
		}
	}
	groups := slices.Clone(previous.Groups)
	if p.group.Base != "" && !p.group.SkipGroupRefresh {
		if groups, err = p.searchGroups(conn, u.filterValue); err != nil {
			return nil, fmt.Errorf("refresh LDAP identity: %w", err)
		}
	}
	return &upstream.Identity{Subject: previous.Subject, Username: u.username, Groups: groups,
		UpstreamData: previous.UpstreamData}, nil
}

// readUser reads the user entry at dn.
func (p *Provider) readUser(conn Conn, dn string) (*user, error) {
	req := ldapv3.NewSearchRequest(dn, ldapv3.ScopeBaseObject, ldapv3.NeverDerefAliases, 2, p.timeLimit(), false,
		"(objectClass=*)", p.userAttributes(), nil)
	res, err := conn.Search(req)
	switch {
	case ldapv3.IsErrorWithCode(err, ldapv3.LDAPResultNoSuchObject):
		return nil, fmt.Errorf("the user entry %q no longer exists", dn)
	case err != nil:
		return nil, fmt.Errorf("read the user entry %q: %w", dn, err)
	case len(res.Entries) != 1:
		return nil, fmt.Errorf("read the user entry %q: got %d entries, want 1", dn, len(res.Entries))
	}
	return p.userFromEntry(res.Entries[0])
}
