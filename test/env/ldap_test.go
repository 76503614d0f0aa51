// SPDX-License-Identifier: Apache-2.0

//go:build integration

package env

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// TestActiveDirectoryShapedLDAP starts a separate slapd with the Active Directory
// schema and checks the root DSE, a user bind and the seeded attributes.
func TestActiveDirectoryShapedLDAP(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/slapd"); err != nil {
		t.Skip("slapd is not installed")
	}
	dir := t.TempDir()
	ca, err := NewCA(dir, "ca", "test CA")
	if err != nil {
		t.Fatal(err)
	}
	users := []ADUser{{SAMAccountName: "pinny", Password: "pinny-pw"}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := StartLDAPWith(ctx, dir, ca, ActiveDirectoryOptions(users, []ADGroup{{SAMAccountName: "seals", Members: []string{"pinny"}},
		{SAMAccountName: "mammals", Members: []string{"group:seals"}}}))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	conn, err := l.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Bind(l.ADUserDN("pinny"), "pinny-pw"); err != nil {
		t.Fatalf("bind as pinny: %v", err)
	}
	res, err := conn.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 5, false,
		"(objectClass=*)", []string{"defaultNamingContext"}, nil))
	if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("defaultNamingContext") != ActiveDirectoryBaseDN {
		t.Fatalf("root DSE: %v %+v", err, res)
	}
	res, err = conn.Search(ldap.NewSearchRequest(l.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 5, false,
		"(&(objectClass=person)(!(objectClass=computer))(sAMAccountName=pinny)(sAMAccountType=805306368))",
		[]string{"userPrincipalName", "objectGUID", "pwdLastSet", "userAccountControl", "msDS-User-Account-Control-Computed"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("user search: %v %+v", err, res)
	}
	e := res.Entries[0]
	if e.GetAttributeValue("userPrincipalName") != "pinny@corp.example.com" || string(e.GetRawAttributeValue("objectGUID")) != string(users[0].ObjectGUID) ||
		e.GetAttributeValue("userAccountControl") != "512" || e.GetAttributeValue("msDS-User-Account-Control-Computed") != "0" {
		t.Errorf("user entry %+v", e)
	}
	res, err = conn.Search(ldap.NewSearchRequest(l.GroupsDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 5, false,
		"(&(objectClass=group)(member="+ldap.EscapeFilter(l.ADGroupDN("seals"))+"))", []string{"sAMAccountName"}, nil))
	if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("sAMAccountName") != "mammals" {
		t.Errorf("nested group search: %v %+v", err, res)
	}
}
