// SPDX-License-Identifier: Apache-2.0

package ldap

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	ldapv3 "github.com/go-ldap/ldap/v3"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
)

// Active Directory attributes read at login and checked on refresh (docs/wire-contract.md §1.8).
const (
	attributePwdLastSet = "pwdLastSet"
	// attributeUserAccountControl holds the account flags; 0x2 is ACCOUNTDISABLE.
	attributeUserAccountControl = "userAccountControl"
	// attributeUserAccountControlComputed is constructed by the server (it must be
	// requested by name); 0x10 is UF_LOCKOUT.
	attributeUserAccountControlComputed = "msDS-User-Account-Control-Computed"

	flagAccountDisable = 0x2
	flagLockout        = 0x10
)

// activeDirectoryRefreshAttributes are the user attributes the Active Directory refresh
// checks use.
func activeDirectoryRefreshAttributes() []string {
	return []string{attributePwdLastSet, attributeUserAccountControl, attributeUserAccountControlComputed}
}

// withActiveDirectoryDefaults fills the empty filters and attributes with the Active
// Directory defaults of docs/wire-contract.md §1.8. The search bases have no static default:
// see DefaultNamingContext.
func withActiveDirectoryDefaults(user UserSearch, group GroupSearch) (UserSearch, GroupSearch) {
	if user.Filter == "" {
		user.Filter = idpv1alpha1.ActiveDirectoryDefaultUserSearchFilter
	}
	if user.UsernameAttribute == "" {
		user.UsernameAttribute = idpv1alpha1.ActiveDirectoryDefaultUsernameAttribute
	}
	if user.UIDAttribute == "" {
		user.UIDAttribute = idpv1alpha1.ActiveDirectoryDefaultUIDAttribute
	}
	if group.Filter == "" {
		group.Filter = idpv1alpha1.ActiveDirectoryDefaultGroupSearchFilter
	}
	if group.GroupNameAttribute == "" {
		group.GroupNameAttribute = idpv1alpha1.ActiveDirectoryDefaultGroupNameAttribute
	}
	return user, group
}

// activeDirectoryUID renders the raw UID attribute as the identity's subject: objectGUID
// as a GUID string (docs/wire-contract.md §2.8), any other attribute as base64url like LDAP.
func activeDirectoryUID(attr string, raw []byte) (string, error) {
	if attr != idpv1alpha1.ActiveDirectoryDefaultUIDAttribute {
		return base64.RawURLEncoding.EncodeToString(raw), nil
	}
	return GUIDString(raw)
}

// GUIDString renders a binary objectGUID as Active Directory shows it, for example
// "a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90". Microsoft's GUID layout is mixed-endian: the
// first three fields (4, 2 and 2 bytes) are little-endian, the last 8 bytes are in order.
func GUIDString(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("objectGUID has %d bytes, want 16", len(b))
	}
	return fmt.Sprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%x",
		b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10:]), nil
}

// DomainFromDN derives a DNS domain from the DC components of dn, in order:
// "CN=Admins,OU=Groups,DC=corp,DC=example,DC=com" gives "corp.example.com". In Active
// Directory an entry's DC components are the naming context of its domain.
func DomainFromDN(dn string) (string, error) {
	parsed, err := ldapv3.ParseDN(dn)
	if err != nil {
		return "", fmt.Errorf("parse DN %q: %w", dn, err)
	}
	var labels []string
	for _, rdn := range parsed.RDNs {
		for _, a := range rdn.Attributes {
			if strings.EqualFold(a.Type, "dc") && a.Value != "" {
				labels = append(labels, a.Value)
			}
		}
	}
	if len(labels) == 0 {
		return "", fmt.Errorf("the DN %q has no DC components", dn)
	}
	return strings.Join(labels, "."), nil
}

// groupNameWithDomain is the default Active Directory group name,
// "<sAMAccountName>@<domain>", the domain derived from the group's DN.
func groupNameWithDomain(sAMAccountName, groupDN string) (string, error) {
	domain, err := DomainFromDN(groupDN)
	if err != nil {
		return "", err
	}
	return sAMAccountName + "@" + domain, nil
}

// accountState is what a user entry says about an Active Directory account. The values
// are the raw attribute values, "" when absent.
type accountState struct {
	pwdLastSet, userAccountControl, userAccountControlComputed string
}

func readAccountState(entry *ldapv3.Entry) accountState {
	return accountState{
		pwdLastSet:                 entry.GetAttributeValue(attributePwdLastSet),
		userAccountControl:         entry.GetAttributeValue(attributeUserAccountControl),
		userAccountControlComputed: entry.GetAttributeValue(attributeUserAccountControlComputed),
	}
}

// Errors of the Active Directory refresh checks.
var (
	errPasswordChanged  = errors.New("the user's password changed since login (pwdLastSet)")
	errAccountDisabled  = errors.New("the user's account is disabled (userAccountControl)")
	errAccountLocked    = errors.New("the user's account is locked (msDS-User-Account-Control-Computed)")
	errAccountUnchecked = errors.New("the user's account flags are not integers")
)

// check fails when the password changed since a login that saw pwdLastSet, or the
// account is disabled or locked. Flags that do not parse fail too: the refresh cannot
// tell that the account is usable.
func (a accountState) check(pwdLastSetAtLogin string) error {
	if a.pwdLastSet != pwdLastSetAtLogin {
		return errPasswordChanged
	}
	uac, err := flags(a.userAccountControl)
	if err != nil {
		return errAccountUnchecked
	}
	computed, err := flags(a.userAccountControlComputed)
	if err != nil {
		return errAccountUnchecked
	}
	switch {
	case uac&flagAccountDisable != 0:
		return errAccountDisabled
	case computed&flagLockout != 0:
		return errAccountLocked
	}
	return nil
}

// flags parses a decimal flags attribute (Active Directory sends a signed 32-bit
// integer); absent means no flag set.
func flags(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	return strconv.ParseInt(v, 10, 64)
}

// DefaultNamingContext reads the root DSE's defaultNamingContext, the default Active
// Directory user and group search base, over a connection bound as the service account.
func DefaultNamingContext(ctx context.Context, dial DialFunc, e Endpoint, bindUsername, bindPassword string) (string, error) {
	conn, err := dial(ctx, e)
	if err != nil {
		return "", err
	}
	defer func() { _ = conn.Close() }()
	if err := conn.Bind(bindUsername, bindPassword); err != nil {
		return "", fmt.Errorf("bind as %q: %w", bindUsername, err)
	}
	attr := idpv1alpha1.ActiveDirectoryDefaultSearchBaseAttribute
	req := ldapv3.NewSearchRequest("", ldapv3.ScopeBaseObject, ldapv3.NeverDerefAliases, 1, max(1, int(e.timeout().Seconds())), false,
		"(objectClass=*)", []string{attr}, nil)
	res, err := conn.Search(req)
	switch {
	case err != nil:
		return "", fmt.Errorf("read the root DSE: %w", err)
	case len(res.Entries) != 1:
		return "", fmt.Errorf("read the root DSE: got %d entries, want 1", len(res.Entries))
	}
	base := res.Entries[0].GetAttributeValue(attr)
	if base == "" {
		return "", fmt.Errorf("the root DSE has no %s", attr)
	}
	return base, nil
}
