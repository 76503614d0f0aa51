// SPDX-License-Identifier: Apache-2.0

package env

import (
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// ActiveDirectoryBaseDN is the naming context of the Active Directory shaped directory.
const ActiveDirectoryBaseDN = "dc=corp,dc=example,dc=com"

// activeDirectorySchema defines, for OpenLDAP, the Active Directory attributes and
// object classes a supervisor reads. Names and syntaxes are AD's; the OIDs are a private
// arc (2.25, UUID-derived), not AD's. msDS-User-Account-Control-Computed is stored
// here, where AD computes it, and the matching rule in chain
// (1.2.840.113556.1.4.1941) does not exist in OpenLDAP.
const activeDirectorySchema = `objectidentifier SelkieAD 2.25.329800735698586629295641978511506172918
objectidentifier SelkieADAttr SelkieAD:1
objectidentifier SelkieADClass SelkieAD:2

attributetype ( SelkieADAttr:1 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( SelkieADAttr:2 NAME 'userPrincipalName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( SelkieADAttr:3 NAME 'objectGUID'
  EQUALITY octetStringMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
attributetype ( SelkieADAttr:4 NAME 'pwdLastSet'
  EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( SelkieADAttr:5 NAME 'userAccountControl'
  EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( SelkieADAttr:6 NAME 'msDS-User-Account-Control-Computed'
  EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( SelkieADAttr:7 NAME 'sAMAccountType'
  EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( SelkieADAttr:8 NAME 'showInAdvancedViewOnly'
  EQUALITY booleanMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE )
attributetype ( SelkieADAttr:9 NAME 'defaultNamingContext'
  EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE )

objectclass ( SelkieADClass:1 NAME 'user' SUP organizationalPerson STRUCTURAL
  MAY ( sAMAccountName $ userPrincipalName $ objectGUID $ pwdLastSet $ userAccountControl $
        msDS-User-Account-Control-Computed $ sAMAccountType $ showInAdvancedViewOnly $ mail ) )
objectclass ( SelkieADClass:2 NAME 'computer' SUP user STRUCTURAL )
objectclass ( SelkieADClass:3 NAME 'group' SUP top STRUCTURAL MUST cn
  MAY ( member $ sAMAccountName $ objectGUID $ sAMAccountType $ showInAdvancedViewOnly $ description ) )
`

// ADUser is a user of the Active Directory shaped directory, at
// cn=<SAMAccountName>,ou=users,<base>.
type ADUser struct {
	SAMAccountName, Password string
	// ObjectGUID is the binary objectGUID (16 bytes); ActiveDirectoryOptions draws
	// a random one when empty.
	ObjectGUID []byte
}

// ADGroup is a group at cn=<SAMAccountName>,ou=groups,<base>; Members are user
// sAMAccountNames or, prefixed with "group:", other groups.
type ADGroup struct {
	SAMAccountName string
	Members        []string
}

// ActiveDirectoryOptions are LDAPOptions for an Active Directory shaped slapd: the
// schema above, defaultNamingContext in the root DSE, users (person, user; account
// enabled, pwdLastSet set) with userPrincipalName <name>@corp.example.com, and
// groups (objectClass group, member = DN). The ObjectGUIDs drawn are written back to
// users.
func ActiveDirectoryOptions(users []ADUser, groups []ADGroup) LDAPOptions {
	return LDAPOptions{
		BaseDN:  ActiveDirectoryBaseDN,
		Schema:  activeDirectorySchema,
		RootDSE: "dn:\ndefaultNamingContext: " + ActiveDirectoryBaseDN + "\n",
		Seed: func(l *LDAP, conn *ldap.Conn) error {
			adds := l.BaseEntries()
			for i := range users {
				u := &users[i]
				if len(u.ObjectGUID) == 0 {
					u.ObjectGUID = make([]byte, 16)
					_, _ = rand.Read(u.ObjectGUID)
				}
				adds = append(adds, addRequest(l.ADUserDN(u.SAMAccountName), map[string][]string{
					"objectClass": {"top", "person", "organizationalPerson", "user"}, "cn": {u.SAMAccountName}, "sn": {u.SAMAccountName},
					"sAMAccountName": {u.SAMAccountName}, "userPrincipalName": {u.SAMAccountName + "@corp.example.com"},
					"objectGUID": {string(u.ObjectGUID)}, "sAMAccountType": {"805306368"}, "userAccountControl": {"512"},
					"msDS-User-Account-Control-Computed": {"0"}, "pwdLastSet": {strconv.Itoa(133500000000000000 + i)},
					"userPassword": {ssha(u.Password)},
				}))
			}
			for _, g := range groups {
				var members []string
				for _, m := range g.Members {
					if name, ok := strings.CutPrefix(m, "group:"); ok {
						members = append(members, l.ADGroupDN(name))
					} else {
						members = append(members, l.ADUserDN(m))
					}
				}
				attrs := map[string][]string{"objectClass": {"top", "group"}, "cn": {g.SAMAccountName}, "sAMAccountName": {g.SAMAccountName}}
				if len(members) > 0 {
					attrs["member"] = members
				}
				adds = append(adds, addRequest(l.ADGroupDN(g.SAMAccountName), attrs))
			}
			if err := l.AddAll(conn, adds); err != nil {
				return fmt.Errorf("seed the Active Directory shaped directory: %w", err)
			}
			return nil
		},
	}
}

// ADUserDN is the DN of the ADUser with this sAMAccountName.
func (l *LDAP) ADUserDN(name string) string { return "cn=" + ldap.EscapeDN(name) + "," + l.UsersDN }

// ADGroupDN is the DN of the ADGroup with this sAMAccountName.
func (l *LDAP) ADGroupDN(name string) string { return "cn=" + ldap.EscapeDN(name) + "," + l.GroupsDN }
