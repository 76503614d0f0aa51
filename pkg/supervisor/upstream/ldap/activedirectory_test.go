// SPDX-License-Identifier: Apache-2.0

package ldap_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
	upstreamldap "github.com/selkie-dev/selkie/pkg/supervisor/upstream/ldap"
)

const (
	adBase     = "DC=corp,DC=example,DC=com"
	adBindDN   = "CN=svc-selkie,OU=Services," + adBase
	adPinnyDN  = "CN=Pinny Seal,OU=Users," + adBase
	adWallyDN  = "CN=Wally Walrus,OU=Users," + adBase
	adSealsDN  = "CN=Seals,OU=Groups," + adBase
	adMammalDN = "CN=Marine Mammals,OU=Groups," + adBase
	adOpsDN    = "CN=Ops,OU=Groups,DC=emea," + adBase
	// adPinnyGUID is pinny's objectGUID as AD shows it; adPinnyGUIDBytes is its binary
	// (mixed-endian) form.
	adPinnyGUID      = "a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90"
	adPinnyGUIDBytes = "\xd4\xc3\xb2\xa1\xf6\xe5\x18\x07\x29\x3a\x4b\x5c\x6d\x7e\x8f\x90"
)

// newADDir is an Active Directory shaped directory: a root DSE with
// defaultNamingContext, users pinny and wally, a computer account, groups Seals
// (pinny), Marine Mammals (the Seals group: pinny only through nesting) and Ops in the
// child domain emea (pinny).
func newADDir() *fakeDir {
	d := newFakeDir()
	d.add("", map[string][]string{"objectClass": {"top"}, "defaultNamingContext": {adBase}, "namingContexts": {adBase}})
	d.add(adBindDN, map[string][]string{"objectClass": {"user"}, "userPassword": {bindPW}})
	user := func(dn, sam, guid, pw string) {
		d.add(dn, map[string][]string{"objectClass": {"top", "person", "organizationalPerson", "user"},
			"sAMAccountName": {sam}, "userPrincipalName": {sam + "@corp.example.com"}, "objectGUID": {guid},
			"sAMAccountType": {"805306368"}, "pwdLastSet": {"133500000000000000"}, "userAccountControl": {"512"},
			"msDS-User-Account-Control-Computed": {"0"}, "userPassword": {pw}})
	}
	user(adPinnyDN, "pinny", adPinnyGUIDBytes, "pinny-pw")
	user(adWallyDN, "wally", "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10", "wally-pw")
	d.add("CN=PINNY,OU=Computers,"+adBase, map[string][]string{"objectClass": {"person", "user", "computer"},
		"sAMAccountName": {"pinny"}, "sAMAccountType": {"805306368"}, "objectGUID": {"x"}})
	group := func(dn, sam string, members ...string) {
		d.add(dn, map[string][]string{"objectClass": {"top", "group"}, "sAMAccountName": {sam}, "member": members})
	}
	group(adSealsDN, "seals", adPinnyDN)
	group(adMammalDN, "marine-mammals", adSealsDN, adWallyDN)
	group(adOpsDN, "ops", adPinnyDN)
	return d
}

func adConfig(d *fakeDir, edit func(*upstreamldap.Config)) upstreamldap.Config {
	cfg := upstreamldap.Config{
		Namespace: "ns", Name: "my-ad", UID: "uid-1", ActiveDirectory: true,
		Endpoint: upstreamldap.Endpoint{Host: "dc1.corp.example.com", Protocol: upstreamldap.LDAPS},
		Dial:     d.dial, BindUsername: adBindDN, BindPassword: bindPW,
		UserSearch: upstreamldap.UserSearch{Base: adBase}, GroupSearch: upstreamldap.GroupSearch{Base: adBase},
	}
	if edit != nil {
		edit(&cfg)
	}
	return cfg
}

func TestGUIDString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want, wantErr string }{
		{name: "mixed-endian", in: adPinnyGUIDBytes, want: adPinnyGUID},
		{name: "counting", in: "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10", want: "04030201-0605-0807-090a-0b0c0d0e0f10"},
		{name: "zero", in: strings.Repeat("\x00", 16), want: "00000000-0000-0000-0000-000000000000"},
		{name: "too short", in: "abc", wantErr: "3 bytes"},
		{name: "too long", in: strings.Repeat("a", 17), wantErr: "17 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := upstreamldap.GUIDString([]byte(tc.in))
			if got != tc.want || (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("GUIDString = %q, %v; want %q, error %q", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestDomainFromDN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ dn, want string }{
		{adBase, "corp.example.com"},
		{adOpsDN, "emea.corp.example.com"},
		{"cn=x,ou=y,dc=Example,dc=COM", "Example.COM"},
		{"CN=a\\,b,OU=G,DC=ad,DC=test", "ad.test"},
		{"cn=admin,o=example", ""},
		{"not a dn", ""},
	} {
		got, err := upstreamldap.DomainFromDN(tc.dn)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("DomainFromDN(%q) = %q, %v; want %q", tc.dn, got, err, tc.want)
		}
	}
}

func TestActiveDirectoryDefaultsAndLogin(t *testing.T) {
	t.Parallel()
	d := newADDir()
	p, err := upstreamldap.New(adConfig(d, nil))
	if err != nil {
		t.Fatal(err)
	}
	if p.Type() != upstream.TypeActiveDirectory {
		t.Errorf("Type = %q", p.Type())
	}
	// sAMAccountName, userPrincipalName and (here) mail all find the user; the computer
	// account with the same sAMAccountName does not.
	for _, typed := range []string{"pinny", "pinny@corp.example.com", "PINNY"} {
		id, err := p.Login(context.Background(), typed, "pinny-pw")
		if err != nil {
			t.Fatalf("Login(%q): %v", typed, err)
		}
		want := []string{"marine-mammals@corp.example.com", "ops@emea.corp.example.com", "seals@corp.example.com"}
		if id.Subject != adPinnyGUID || id.Username != "pinny@corp.example.com" || !slices.Equal(id.Groups, want) {
			t.Errorf("Login(%q) = %+v, want subject %q, username pinny@corp.example.com, groups %v", typed, id, adPinnyGUID, want)
		}
	}
	filters := d.filters()
	wantUser := strings.ReplaceAll(idpv1alpha1.ActiveDirectoryDefaultUserSearchFilter, "{}", "pinny")
	wantGroup := "(&(objectClass=group)(member:1.2.840.113556.1.4.1941:=CN=Pinny Seal,OU=Users,DC=corp,DC=example,DC=com))"
	if !slices.Contains(filters, wantUser) || !slices.Contains(filters, wantGroup) {
		t.Errorf("filters %q, want %q and %q", filters, wantUser, wantGroup)
	}
	sub := p.DownstreamSubject("corp", &upstream.Identity{Subject: adPinnyGUID})
	if want := "ldaps://dc1.corp.example.com?base=DC%3Dcorp%2CDC%3Dexample%2CDC%3Dcom&idpName=corp&sub=" + adPinnyGUID; sub != want {
		t.Errorf("sub %q, want %q", sub, want)
	}
}

func TestActiveDirectoryOverrides(t *testing.T) {
	t.Parallel()
	d := newADDir()
	p, err := upstreamldap.New(adConfig(d, func(c *upstreamldap.Config) {
		c.UserSearch = upstreamldap.UserSearch{Base: "OU=Users," + adBase, Filter: "sAMAccountName={}",
			UsernameAttribute: "sAMAccountName", UIDAttribute: "sAMAccountName"}
		c.GroupSearch = upstreamldap.GroupSearch{Base: adBase, Filter: "member={}", GroupNameAttribute: "dn"}
	}))
	if err != nil {
		t.Fatal(err)
	}
	id, err := p.Login(context.Background(), "pinny", "pinny-pw")
	if err != nil {
		t.Fatal(err)
	}
	// A UID other than objectGUID is base64url like LDAP; groups named by DN get no
	// domain; a plain member filter finds direct memberships only.
	want := &upstream.Identity{Subject: b64("pinny"), Username: "pinny", Groups: []string{adOpsDN, adSealsDN}}
	if diff := cmp.Diff(want, id, cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "UpstreamData" }, cmp.Ignore())); diff != "" {
		t.Errorf("identity (-want +got):\n%s", diff)
	}
}

func TestActiveDirectoryRefresh(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		change  func(*fakeDir, *upstream.Identity)
		wantErr string
	}{
		{name: "unchanged"},
		{name: "other flags set", change: func(d *fakeDir, _ *upstream.Identity) {
			d.setAttr(adPinnyDN, "userAccountControl", "66048") // NORMAL_ACCOUNT|DONT_EXPIRE_PASSWORD
			d.setAttr(adPinnyDN, "msDS-User-Account-Control-Computed", "8388608")
		}},
		{name: "password changed", wantErr: "password changed",
			change: func(d *fakeDir, _ *upstream.Identity) { d.setAttr(adPinnyDN, "pwdLastSet", "133500000000000001") }},
		{name: "password must change (pwdLastSet 0)", wantErr: "password changed",
			change: func(d *fakeDir, _ *upstream.Identity) { d.setAttr(adPinnyDN, "pwdLastSet", "0") }},
		{name: "disabled", wantErr: "disabled",
			change: func(d *fakeDir, _ *upstream.Identity) { d.setAttr(adPinnyDN, "userAccountControl", "514") }},
		{name: "locked", wantErr: "locked",
			change: func(d *fakeDir, _ *upstream.Identity) {
				d.setAttr(adPinnyDN, "msDS-User-Account-Control-Computed", "16")
			}},
		{name: "flags unreadable", wantErr: "not integers",
			change: func(d *fakeDir, _ *upstream.Identity) { d.setAttr(adPinnyDN, "userAccountControl", "lots") }},
		{name: "objectGUID changed", wantErr: "UID changed",
			change: func(d *fakeDir, _ *upstream.Identity) { d.setAttr(adPinnyDN, "objectGUID", strings.Repeat("\x00", 16)) }},
		{name: "login-time pwdLastSet tampered with", wantErr: "password changed",
			change: func(_ *fakeDir, id *upstream.Identity) {
				var m map[string]any
				_ = json.Unmarshal(id.UpstreamData, &m)
				m["pwdLastSet"] = "1"
				id.UpstreamData, _ = json.Marshal(m)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newADDir()
			p, err := upstreamldap.New(adConfig(d, nil))
			if err != nil {
				t.Fatal(err)
			}
			id, err := p.Login(context.Background(), "pinny", "pinny-pw")
			if err != nil {
				t.Fatal(err)
			}
			previous := *id
			if tc.change != nil {
				tc.change(d, &previous)
			}
			got, err := p.Refresh(context.Background(), &previous)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Refresh = %+v, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if diff := cmp.Diff(id, got); diff != "" {
				t.Errorf("refreshed identity (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDefaultNamingContext(t *testing.T) {
	t.Parallel()
	d := newADDir()
	e := upstreamldap.Endpoint{Host: "dc1", Protocol: upstreamldap.LDAPS}
	if got, err := upstreamldap.DefaultNamingContext(context.Background(), d.dial, e, adBindDN, bindPW); got != adBase || err != nil {
		t.Errorf("DefaultNamingContext = %q, %v; want %q", got, err, adBase)
	}
	d.remove("")
	if got, err := upstreamldap.DefaultNamingContext(context.Background(), d.dial, e, adBindDN, bindPW); err == nil {
		t.Errorf("without a root DSE: %q, want an error", got)
	}
	d.dialErr = errors.New("connection refused")
	if _, err := upstreamldap.DefaultNamingContext(context.Background(), d.dial, e, adBindDN, bindPW); err == nil {
		t.Error("server down: want an error")
	}
}
