// SPDX-License-Identifier: Apache-2.0

package ldap_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
	upstreamldap "github.com/selkie-dev/selkie/pkg/supervisor/upstream/ldap"
)

func TestRefresh(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*upstreamldap.Config)
		// change changes the directory (or the previous identity) after login.
		change     func(*fakeDir, *upstream.Identity)
		wantGroups []string
		wantErr    string
	}{
		{name: "unchanged", wantGroups: []string{"pinnipeds", "seals"}},
		{name: "removed from a group", wantGroups: []string{"pinnipeds"},
			change: func(d *fakeDir, _ *upstream.Identity) { d.setAttr(sealsDN, "member", wallyDN) }},
		{name: "skipGroupRefresh keeps the login groups", wantGroups: []string{"pinnipeds", "seals"},
			edit:   func(c *upstreamldap.Config) { c.GroupSearch.SkipGroupRefresh = true },
			change: func(d *fakeDir, _ *upstream.Identity) { d.setAttr(sealsDN, "member", wallyDN) }},
		{name: "user deleted", wantErr: "no longer exists",
			change: func(d *fakeDir, _ *upstream.Identity) { d.remove(pinnyDN) }},
		{name: "username changed", wantErr: "username changed",
			change: func(d *fakeDir, _ *upstream.Identity) { d.setAttr(pinnyDN, "uid", "pinny2") }},
		{name: "uid changed", wantErr: "UID changed",
			change: func(d *fakeDir, _ *upstream.Identity) { d.setAttr(pinnyDN, "uidNumber", "4242") }},
		{name: "too many groups now", wantErr: "more than 2 groups",
			edit: func(c *upstreamldap.Config) { c.MaxGroups = 2 },
			change: func(d *fakeDir, _ *upstream.Identity) {
				d.add("cn=walruses,"+groupsDN, map[string][]string{"cn": {"walruses"}, "member": {pinnyDN}})
			}},
		{name: "corrupt upstream data", wantErr: "decode upstream data",
			change: func(_ *fakeDir, id *upstream.Identity) { id.UpstreamData = []byte("{") }},
		{name: "upstream data of another subject", wantErr: "another subject",
			change: func(_ *fakeDir, id *upstream.Identity) { id.Subject = b64("1001") }},
		{name: "server down", wantErr: "refused",
			change: func(d *fakeDir, _ *upstream.Identity) { d.dialErr = errorString("connection refused") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newDir()
			p := newProvider(t, d, func(c *upstreamldap.Config) {
				c.GroupSearch.GroupNameAttribute = "cn"
				if tc.edit != nil {
					tc.edit(c)
				}
			})
			id, err := p.Login(context.Background(), "pinny", "pinny-pw")
			if err != nil {
				t.Fatal(err)
			}
			previous := *id
			if tc.change != nil {
				tc.change(d, &previous)
			}
			searches := len(d.filters())
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
			want := upstream.Identity{Subject: id.Subject, Username: "pinny", Groups: tc.wantGroups, UpstreamData: id.UpstreamData}
			if diff := cmp.Diff(want, *got); diff != "" {
				t.Errorf("refreshed identity (-want +got):\n%s", diff)
			}
			// The entry is read by DN; groups are searched only without skipGroupRefresh.
			filters := d.filters()[searches:]
			wantSearches := 2
			if tc.edit != nil && strings.Contains(tc.name, "skipGroupRefresh") {
				wantSearches = 1
			}
			if len(filters) != wantSearches || filters[0] != "(objectClass=*)" {
				t.Errorf("refresh searched %q", filters)
			}
		})
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
