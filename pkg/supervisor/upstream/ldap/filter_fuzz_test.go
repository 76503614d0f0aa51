// SPDX-License-Identifier: Apache-2.0

package ldap

import (
	"strings"
	"testing"

	ldapv3 "github.com/go-ldap/ldap/v3"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
)

// fuzzFilterTemplates are realistic user and group search filters, as an admin writes
// them (with or without outer parentheses), including the defaults.
var fuzzFilterTemplates = []string{
	"uid={}",
	"(&(objectClass=posixAccount)(uid={}))",
	"(|(mail={})(uid={})(cn={}))",
	"(&(objectClass=person)(!(nsAccountLock=TRUE))(sAMAccountName={}))",
	"cn=*{}*",
	"(cn={}*)",
	"(uidNumber>={})",
	"(displayName~={})",
	"(uid:caseExactMatch:={})",
	idpv1alpha1.LDAPDefaultGroupSearchFilter,
	idpv1alpha1.ActiveDirectoryDefaultUserSearchFilter,
	idpv1alpha1.ActiveDirectoryDefaultGroupSearchFilter,
}

// fuzzFilterProbe stands for the value in the reference compilation of a template: it
// has no character that needs escaping, and the templates do not contain it.
const fuzzFilterProbe = "PROBE"

// FuzzLDAPFilter fills the user and group search filters with fuzzed usernames (and
// group filter values), as Login and refresh do.
//
// Properties:
//   - fillFilter never panics;
//   - every filter withDefaults accepts still compiles (ldap.CompileFilter) once
//     filled with any non-empty value;
//   - the value can never add filter structure: the compiled filter is the template
//     filled with a plain probe value, node for node, with the value (byte for byte,
//     including NUL, parentheses, asterisks, backslashes and non-ASCII bytes) in the
//     probe's places, which protects against LDAP filter injection (a username such as
//     "*" or "x)(uid=*" matching other entries);
//   - the filled filter is the template with the escaped value, and filling is
//     deterministic.
func FuzzLDAPFilter(f *testing.F) {
	for i, username := range []string{
		"alice", "*", "x)(uid=*", "*)(|(objectClass=*)", "\\2a", "a\x00b", "ü", "\xff\xfe", "(", ")", "\\", "{}", "a*b*c",
		"cn=admin,dc=example,dc=com", " alice ", "alice)(&", "=", "~=", ">=", ":dn:", "\u00a0", strings.Repeat("a", 300),
	} {
		f.Add(username, uint8(i))
	}
	f.Fuzz(func(t *testing.T, value string, which uint8) {
		template := fuzzFilterTemplates[int(which)%len(fuzzFilterTemplates)]
		user, group, err := withDefaults(UserSearch{Base: "ou=users,dc=example,dc=com", UsernameAttribute: "uid", UIDAttribute: "uidNumber", Filter: template},
			GroupSearch{Base: "ou=groups,dc=example,dc=com", Filter: template})
		if err != nil {
			t.Fatalf("withDefaults refused the template %q: %v", template, err)
		}
		for _, filter := range []string{user.Filter, group.Filter} {
			filled := fillFilter(filter, value)
			if filled != fillFilter(filter, value) {
				t.Fatal("fillFilter is not deterministic")
			}
			if want := strings.ReplaceAll(filter, placeholder, ldapv3.EscapeFilter(value)); filled != want {
				t.Fatalf("fillFilter(%q, %q) = %q, want %q", filter, value, filled, want)
			}
			if value == "" {
				// Login refuses an empty username, and the group filter value is a
				// non-empty attribute value: an empty value never reaches a filter.
				continue
			}
			got, err := ldapv3.CompileFilter(filled)
			if err != nil {
				t.Fatalf("filter %q filled with %q does not compile: %v", filter, value, err)
			}
			ref, err := ldapv3.CompileFilter(fillFilter(filter, fuzzFilterProbe))
			if err != nil {
				t.Fatal(err)
			}
			// DecompileFilter writes every node in a canonical form with each value
			// escaped: the same tree with the value in the probe's places decompiles
			// to the reference with the probe replaced by the escaped value.
			gotText, err := ldapv3.DecompileFilter(got)
			if err != nil {
				t.Fatalf("filter %q filled with %q does not decompile: %v", filter, value, err)
			}
			refText, err := ldapv3.DecompileFilter(ref)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.ReplaceAll(refText, fuzzFilterProbe, ldapv3.EscapeFilter(value)); gotText != want {
				t.Fatalf("filter %q filled with %q compiles to %s, want %s: the value changed the filter's structure", filter, value, gotText, want)
			}
		}
	})
}
