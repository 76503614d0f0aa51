// SPDX-License-Identifier: Apache-2.0

package ldap_test

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
	upstreamldap "github.com/selkie-dev/selkie/pkg/supervisor/upstream/ldap"
)

const (
	usersDN     = "ou=users,dc=example,dc=com"
	groupsDN    = "ou=groups,dc=example,dc=com"
	bindDN      = "cn=admin,dc=example,dc=com"
	bindPW      = "bind-pw"
	pinnyDN     = "uid=pinny," + usersDN
	wallyDN     = "uid=wally," + usersDN
	starDN      = "uid=star*(1)," + usersDN
	sealsDN     = "cn=seals," + groupsDN
	pinnipedsDN = "cn=pinnipeds," + groupsDN
)

// newDir is the test directory: users pinny, wally, admin, two entries sharing a mail
// address and one whose DN has filter metacharacters; groupOfNames seals (pinny),
// pinnipeds (pinny, wally), stars (the odd user) and posixGroup ball-players (pinny).
func newDir() *fakeDir {
	d := newFakeDir()
	d.add(bindDN, map[string][]string{"cn": {"admin"}, "userPassword": {bindPW}})
	person := func(dn, uid, number, pw string) {
		d.add(dn, map[string][]string{"objectClass": {"inetOrgPerson", "posixAccount"}, "uid": {uid}, "uidNumber": {number},
			"cn": {uid}, "mail": {uid + "@example.com"}, "userPassword": {pw}})
	}
	person(pinnyDN, "pinny", "1000", "pinny-pw")
	person(wallyDN, "wally", "1001", "wally-pw")
	person("uid=admin,"+usersDN, "admin", "1002", "admin-pw")
	person(starDN, "star*(1)", "1003", "star-pw")
	d.add("uid=twin1,"+usersDN, map[string][]string{"uid": {"twin1"}, "uidNumber": {"1004"}, "mail": {"twin@example.com"}, "userPassword": {"twin-pw"}})
	d.add("uid=twin2,"+usersDN, map[string][]string{"uid": {"twin2"}, "uidNumber": {"1005"}, "mail": {"twin@example.com"}, "userPassword": {"twin-pw"}})
	d.add(sealsDN, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"seals"}, "member": {pinnyDN}})
	d.add(pinnipedsDN, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"pinnipeds"}, "member": {pinnyDN, wallyDN}})
	d.add("cn=stars,"+groupsDN, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"stars"}, "member": {starDN}})
	d.add("cn=ball-players,"+groupsDN, map[string][]string{"objectClass": {"posixGroup"}, "cn": {"ball-players"}, "memberUid": {"pinny"}})
	return d
}

func testConfig(d *fakeDir, edit func(*upstreamldap.Config)) upstreamldap.Config {
	cfg := upstreamldap.Config{
		Namespace: "ns", Name: "my-ldap", UID: "uid-1",
		Endpoint: upstreamldap.Endpoint{Host: "ldap.example.com", Protocol: upstreamldap.LDAPS},
		Dial:     d.dial, BindUsername: bindDN, BindPassword: bindPW,
		UserSearch:  upstreamldap.UserSearch{Base: usersDN, Filter: "uid={}", UsernameAttribute: "uid", UIDAttribute: "uidNumber"},
		GroupSearch: upstreamldap.GroupSearch{Base: groupsDN},
	}
	if edit != nil {
		edit(&cfg)
	}
	return cfg
}

func newProvider(t *testing.T, d *fakeDir, edit func(*upstreamldap.Config)) *upstreamldap.Provider {
	t.Helper()
	p, err := upstreamldap.New(testConfig(d, edit))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestLogin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		edit         func(*upstreamldap.Config)
		username, pw string
		want         upstream.Identity
	}{
		{
			name: "groupOfNames by DN", username: "pinny", pw: "pinny-pw",
			want: upstream.Identity{Subject: b64("1000"), Username: "pinny", Groups: []string{pinnipedsDN, sealsDN}},
		},
		{
			name: "group names from cn", username: "wally", pw: "wally-pw",
			edit: func(c *upstreamldap.Config) { c.GroupSearch.GroupNameAttribute = "cn" },
			want: upstream.Identity{Subject: b64("1001"), Username: "wally", Groups: []string{"pinnipeds"}},
		},
		{
			name: "posixGroup by uid", username: "pinny", pw: "pinny-pw",
			edit: func(c *upstreamldap.Config) {
				c.GroupSearch = upstreamldap.GroupSearch{Base: groupsDN, Filter: "(&(objectClass=posixGroup)(memberUid={}))",
					UserAttributeForFilter: "uid", GroupNameAttribute: "cn"}
			},
			want: upstream.Identity{Subject: b64("1000"), Username: "pinny", Groups: []string{"ball-players"}},
		},
		{
			name: "dn as username and uid, mail as login name", username: "pinny@example.com", pw: "pinny-pw",
			edit: func(c *upstreamldap.Config) {
				c.UserSearch = upstreamldap.UserSearch{Base: usersDN, Filter: "(mail={})", UsernameAttribute: "dn", UIDAttribute: "dn"}
				c.GroupSearch.GroupNameAttribute = "cn"
			},
			want: upstream.Identity{Subject: b64(pinnyDN), Username: pinnyDN, Groups: []string{"pinnipeds", "seals"}},
		},
		{
			name: "default user filter", username: "pinny", pw: "pinny-pw",
			edit: func(c *upstreamldap.Config) { c.UserSearch.Filter = ""; c.GroupSearch = upstreamldap.GroupSearch{} },
			want: upstream.Identity{Subject: b64("1000"), Username: "pinny"},
		},
		{
			name: "DN with filter metacharacters is escaped in the group filter", username: "star*(1)", pw: "star-pw",
			edit: func(c *upstreamldap.Config) { c.GroupSearch.GroupNameAttribute = "cn" },
			want: upstream.Identity{Subject: b64("1003"), Username: "star*(1)", Groups: []string{"stars"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newProvider(t, newDir(), tc.edit)
			got, err := p.Login(context.Background(), tc.username, tc.pw)
			if err != nil {
				t.Fatalf("Login: %v", err)
			}
			data := got.UpstreamData
			got.UpstreamData = nil
			if diff := cmp.Diff(tc.want, *got); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			if !strings.Contains(string(data), `"uid":"`+tc.want.Subject+`"`) || strings.Contains(string(data), tc.pw) {
				t.Errorf("upstream data %s", data)
			}
		})
	}
}

func TestLoginFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		edit         func(*upstreamldap.Config)
		dir          func(*fakeDir)
		username, pw string
		// wantBad is whether the error is upstream.ErrBadCredentials.
		wantBad bool
		wantErr string
	}{
		{name: "wrong password", username: "pinny", pw: "wrong", wantBad: true},
		{name: "another user's password", username: "pinny", pw: "wally-pw", wantBad: true},
		{name: "unknown user", username: "nobody", pw: "pinny-pw", wantBad: true},
		{name: "empty password", username: "pinny", pw: "", wantBad: true},
		{name: "empty username", username: "", pw: "pinny-pw", wantBad: true},
		{name: "several entries", username: "twin@example.com", pw: "twin-pw", wantBad: true,
			edit: func(c *upstreamldap.Config) { c.UserSearch.Filter = "mail={}" }},
		{name: "dial fails", username: "pinny", pw: "pinny-pw", wantErr: "connection refused",
			dir: func(d *fakeDir) { d.dialErr = errors.New("connection refused") }},
		{name: "service account refused", username: "pinny", pw: "pinny-pw", wantErr: "bind as the service account",
			edit: func(c *upstreamldap.Config) { c.BindPassword = "wrong" }},
		{name: "username attribute missing", username: "pinny", pw: "pinny-pw", wantErr: `attribute "displayName"`,
			edit: func(c *upstreamldap.Config) { c.UserSearch.UsernameAttribute = "displayName" }},
		{name: "attribute names are case-sensitive", username: "pinny", pw: "pinny-pw", wantErr: `attribute "UID"`,
			edit: func(c *upstreamldap.Config) { c.UserSearch.UsernameAttribute = "UID" }},
		{name: "too many groups", username: "pinny", pw: "pinny-pw", wantErr: "more than 1 groups",
			edit: func(c *upstreamldap.Config) { c.MaxGroups = 1 }},
		{name: "group without a name", username: "pinny", pw: "pinny-pw", wantErr: `attribute "description"`,
			edit: func(c *upstreamldap.Config) { c.GroupSearch.GroupNameAttribute = "description" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newDir()
			if tc.dir != nil {
				tc.dir(d)
			}
			p := newProvider(t, d, tc.edit)
			id, err := p.Login(context.Background(), tc.username, tc.pw)
			if err == nil {
				t.Fatalf("Login succeeded: %+v", id)
			}
			if got := errors.Is(err, upstream.ErrBadCredentials); got != tc.wantBad {
				t.Errorf("errors.Is(%v, ErrBadCredentials) = %v, want %v", err, got, tc.wantBad)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tc.wantErr)
			}
			if tc.pw != "" && strings.Contains(err.Error(), tc.pw) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

// TestLoginNeverBindsWithoutPassword checks that an empty password never reaches the
// server: it would be an unauthenticated bind, which succeeds.
func TestLoginNeverBindsWithoutPassword(t *testing.T) {
	t.Parallel()
	d := newDir()
	p := newProvider(t, d, nil)
	if _, err := p.Login(context.Background(), "pinny", ""); !errors.Is(err, upstream.ErrBadCredentials) {
		t.Fatalf("Login: %v", err)
	}
	if len(d.dials) != 0 || len(d.binds) != 0 {
		t.Errorf("dials %v binds %v, want none", d.dials, d.binds)
	}
}

// TestFilterInjection checks that what users type is escaped (RFC 4515) before it is
// put into the user search filter, so that it can only ever match literally.
func TestFilterInjection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		username   string
		password   string
		wantFilter string
	}{
		{username: "*", password: "pinny-pw", wantFilter: `(uid=\2a)`},
		{username: "pinny*", password: "pinny-pw", wantFilter: `(uid=pinny\2a)`},
		{username: "*)(uid=*", password: "pinny-pw", wantFilter: `(uid=\2a\29\28uid=\2a)`},
		{username: "admin)(|(uid=*", password: "admin-pw", wantFilter: `(uid=admin\29\28|\28uid=\2a)`},
		{username: "pinny)(uid=*", password: "pinny-pw", wantFilter: `(uid=pinny\29\28uid=\2a)`},
		{username: "*))(|(objectClass=*", password: "pinny-pw", wantFilter: `(uid=\2a\29\29\28|\28objectClass=\2a)`},
		{username: `pinny\`, password: "pinny-pw", wantFilter: `(uid=pinny\5c)`},
		{username: "pinny\x00", password: "pinny-pw", wantFilter: `(uid=pinny\00)`},
	}
	for _, tc := range tests {
		t.Run(tc.username, func(t *testing.T) {
			t.Parallel()
			d := newDir()
			p := newProvider(t, d, nil)
			id, err := p.Login(context.Background(), tc.username, tc.password)
			if !errors.Is(err, upstream.ErrBadCredentials) {
				t.Fatalf("Login = %+v, %v; want ErrBadCredentials", id, err)
			}
			if filters := d.filters(); len(filters) != 1 || filters[0] != tc.wantFilter {
				t.Errorf("searched %q, want only %q", filters, tc.wantFilter)
			}
			if slices.ContainsFunc(d.binds, func(dn string) bool { return dn != bindDN }) {
				t.Errorf("bound as %v: only the service account may bind", d.binds)
			}
		})
	}
	t.Run("a filter written with metacharacters still matches literally", func(t *testing.T) {
		t.Parallel()
		p := newProvider(t, newDir(), nil)
		id, err := p.Login(context.Background(), "star*(1)", "star-pw")
		if err != nil || id.Username != "star*(1)" {
			t.Fatalf("Login = %+v, %v", id, err)
		}
	})
}

func TestDownstreamSubject(t *testing.T) {
	t.Parallel()
	p := newProvider(t, newDir(), func(c *upstreamldap.Config) {
		c.Endpoint = upstreamldap.Endpoint{Host: "ldap.example.com:1389", Protocol: upstreamldap.StartTLS}
	})
	got := p.DownstreamSubject("my idp&co", &upstream.Identity{Subject: b64("1000")})
	want := "ldaps://ldap.example.com:1389?base=ou%3Dusers%2Cdc%3Dexample%2Cdc%3Dcom&idpName=my+idp%26co&sub=MTAwMA"
	if got != want {
		t.Errorf("DownstreamSubject = %q, want %q", got, want)
	}
	if diff := cmp.Diff([]string{upstream.FlowCLIPassword, upstream.FlowBrowserAuthcode}, p.Flows()); diff != "" {
		t.Errorf("Flows (-want +got):\n%s", diff)
	}
	if p.Type() != upstream.TypeLDAP || p.Name() != "my-ldap" || p.Namespace() != "ns" || p.UID() != "uid-1" {
		t.Errorf("identity of the provider: %s %s/%s %s", p.Type(), p.Namespace(), p.Name(), p.UID())
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		edit    func(*upstreamldap.Config)
		wantErr string
	}{
		{"no user search base", func(c *upstreamldap.Config) { c.UserSearch.Base = "" }, "spec.userSearch.base is required"},
		{"no username attribute", func(c *upstreamldap.Config) { c.UserSearch.UsernameAttribute = "" }, "attributes.username is required"},
		{"no uid attribute", func(c *upstreamldap.Config) { c.UserSearch.UIDAttribute = "" }, "attributes.uid is required"},
		{"dn username without filter", func(c *upstreamldap.Config) {
			c.UserSearch.UsernameAttribute, c.UserSearch.Filter = "dn", ""
		}, "filter is required"},
		{"bad user filter", func(c *upstreamldap.Config) { c.UserSearch.Filter = "(&(uid={})" }, "userSearch.filter is not a valid"},
		{"bad group filter", func(c *upstreamldap.Config) { c.GroupSearch.Filter = "(member={}))(" }, "groupSearch.filter is not a valid"},
		{"bad host", func(c *upstreamldap.Config) { c.Endpoint.Host = "ldap.example.com:99999" }, "invalid port"},
		{"no protocol", func(c *upstreamldap.Config) { c.Endpoint.Protocol = "" }, "unknown protocol"},
		{"no bind password", func(c *upstreamldap.Config) { c.BindPassword = "" }, "bind username and password are required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := upstreamldap.New(testConfig(newFakeDir(), tc.edit))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("New: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}
