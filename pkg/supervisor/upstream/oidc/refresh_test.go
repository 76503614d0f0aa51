// SPDX-License-Identifier: Apache-2.0

package oidc_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream/oidc"
)

// onRefresh returns an ID token hook that runs edit for refresh grants only.
func onRefresh(edit func(c map[string]any)) func(string, map[string]any) {
	return func(grant string, c map[string]any) {
		if grant == "refresh_token" {
			edit(c)
		}
	}
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	dropRefreshToken := func(f *fakeUpstream) {
		f.response = func(_ string, r map[string]any) { delete(r, "refresh_token") }
	}
	dropRefreshIDToken := func(f *fakeUpstream) {
		f.response = func(grant string, r map[string]any) {
			if grant == "refresh_token" {
				delete(r, "id_token")
			}
		}
	}
	tests := []struct {
		name        string
		setup       func(f *fakeUpstream) // before login
		afterLogin  func(f *fakeUpstream, clockOffset *atomic.Int64)
		wantGroups  []string
		wantErr     string
		wantRotated bool
		wantNoRT    bool
	}{
		{
			name: "rotated refresh token and updated groups",
			afterLogin: func(f *fakeUpstream, _ *atomic.Int64) {
				f.rotateRefresh = true
				f.idToken = onRefresh(func(c map[string]any) { c["groups"] = "admins" })
			},
			wantGroups: []string{"admins"}, wantRotated: true,
		},
		{name: "refresh token kept when not rotated", wantGroups: []string{"admins", "devs"}},
		{
			name: "changed sub",
			afterLogin: func(f *fakeUpstream, _ *atomic.Int64) {
				f.idToken = onRefresh(func(c map[string]any) { c["sub"] = "mallory" })
			},
			wantErr: "another sub",
		},
		{
			name: "changed username",
			afterLogin: func(f *fakeUpstream, _ *atomic.Int64) {
				f.idToken = onRefresh(func(c map[string]any) { c["email"] = "mallory@example.com" })
			},
			wantErr: "username changed",
		},
		{
			name: "invalid groups",
			afterLogin: func(f *fakeUpstream, _ *atomic.Int64) {
				f.idToken = onRefresh(func(c map[string]any) { c["groups"] = map[string]any{} })
			},
			wantErr: "groups claim",
		},
		{
			name:  "groups absent from the refreshed ID token without userinfo",
			setup: func(f *fakeUpstream) { f.noUserinfo = true },
			afterLogin: func(f *fakeUpstream, _ *atomic.Int64) {
				f.idToken = onRefresh(func(c map[string]any) { delete(c, "groups") })
			},
			wantGroups: []string{"admins", "devs"},
		},
		{
			name: "no ID token: groups from userinfo",
			afterLogin: func(f *fakeUpstream, _ *atomic.Int64) {
				dropRefreshIDToken(f)
				f.userinfo = func(c map[string]any) { c["groups"] = []string{"from-userinfo"} }
			},
			wantGroups: []string{"from-userinfo"},
		},
		{
			name: "no ID token: userinfo about another user",
			afterLogin: func(f *fakeUpstream, _ *atomic.Int64) {
				dropRefreshIDToken(f)
				f.userinfo = func(c map[string]any) { c["sub"] = "mallory" }
			},
			wantErr: "another user",
		},
		{
			name:       "no ID token and no userinfo: previous groups kept",
			setup:      func(f *fakeUpstream) { f.noUserinfo = true },
			afterLogin: func(f *fakeUpstream, _ *atomic.Int64) { dropRefreshIDToken(f) },
			wantGroups: []string{"admins", "devs"},
		},
		{
			name: "refresh token rejected",
			afterLogin: func(f *fakeUpstream, _ *atomic.Int64) {
				f.mu.Lock()
				clear(f.refresh)
				f.mu.Unlock()
			},
			wantErr: "invalid_grant",
		},
		{
			name:  "userinfo with the stored access token",
			setup: dropRefreshToken,
			afterLogin: func(f *fakeUpstream, _ *atomic.Int64) {
				f.userinfo = func(c map[string]any) { c["groups"] = []string{"new"} }
			},
			wantGroups: []string{"new"}, wantNoRT: true,
		},
		{
			name:  "stored access token expired",
			setup: dropRefreshToken,
			afterLogin: func(_ *fakeUpstream, offset *atomic.Int64) {
				offset.Store(int64(2 * time.Hour))
			},
			wantErr: "access token expired",
		},
		{
			name:  "stored access token rejected",
			setup: dropRefreshToken,
			afterLogin: func(f *fakeUpstream, _ *atomic.Int64) {
				f.mu.Lock()
				clear(f.access)
				f.mu.Unlock()
			},
			wantErr: "401",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeUpstream(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			var offset atomic.Int64
			p := newProvider(t, f, func(c *oidc.Config) {
				c.Clock = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
			})
			before, err := codeLogin(t, f, p, "alice", "n", "n")
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			if tc.afterLogin != nil {
				tc.afterLogin(f, &offset)
			}
			got, err := p.(upstream.Refresher).Refresh(context.Background(), before)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Refresh error = %v, want one containing %q", err, tc.wantErr)
				}
				f.assertNoSecrets(t, err.Error())
				return
			}
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			want := &upstream.Identity{Subject: "alice", Username: "alice@example.com", Groups: tc.wantGroups,
				AdditionalClaims: map[string]any{"dept": "eng"}}
			if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(upstream.Identity{}, "UpstreamData")); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			old, updated := decodeData(t, before.UpstreamData), decodeData(t, got.UpstreamData)
			if tc.wantNoRT {
				if updated.RefreshToken != "" || updated.AccessToken != old.AccessToken {
					t.Errorf("UpstreamData changed on a userinfo refresh: %+v", updated)
				}
				return
			}
			if rotated := updated.RefreshToken != old.RefreshToken; rotated != tc.wantRotated || updated.RefreshToken == "" {
				t.Errorf("refresh token rotated = %v (present %v), want %v", rotated, updated.RefreshToken != "", tc.wantRotated)
			}
			if updated.AccessToken == old.AccessToken || updated.Sub != "alice" || updated.Iss != f.issuer() {
				t.Errorf("UpstreamData after refresh = %+v", updated)
			}
			if tc.wantRotated {
				if _, err := p.(upstream.Refresher).Refresh(context.Background(), before); err == nil {
					t.Error("Refresh with the rotated-out refresh token succeeded")
				}
			}
		})
	}
}

func TestRefreshRejectsForeignData(t *testing.T) {
	t.Parallel()
	f := newFakeUpstream(t)
	p := newProvider(t, f, nil).(upstream.Refresher)
	tests := []struct {
		name, data, sub, wantErr string
	}{
		{name: "other issuer", data: `{"v":1,"iss":"https://evil.example.com","sub":"alice","refreshToken":"rt-secret"}`, sub: "alice", wantErr: "issued by"},
		{name: "other subject", data: `{"v":1,"iss":"ISSUER","sub":"bob","refreshToken":"rt-secret"}`, sub: "alice", wantErr: "another subject"},
		{name: "unknown version", data: `{"v":9,"iss":"ISSUER","sub":"alice"}`, sub: "alice", wantErr: "version"},
		{name: "not JSON", data: `rt-secret`, sub: "alice", wantErr: "decode upstream data"},
	}
	for _, tc := range tests {
		data := strings.ReplaceAll(tc.data, "ISSUER", f.issuer())
		_, err := p.Refresh(context.Background(), &upstream.Identity{Subject: tc.sub, UpstreamData: []byte(data)})
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "rt-secret") {
			t.Errorf("%s: Refresh error = %v, want one containing %q and no token", tc.name, err, tc.wantErr)
		}
	}
}

func TestRevokeUpstream(t *testing.T) {
	t.Parallel()
	f := newFakeUpstream(t)
	p := newProvider(t, f, nil)
	id, err := codeLogin(t, f, p, "alice", "n", "n")
	if err != nil {
		t.Fatal(err)
	}
	d := decodeData(t, id.UpstreamData)
	if err := p.(upstream.Revoker).RevokeUpstream(context.Background(), id.UpstreamData); err != nil {
		t.Fatalf("RevokeUpstream: %v", err)
	}
	want := []revocation{{Token: d.RefreshToken, Hint: "refresh_token", ClientOK: true}, {Token: d.AccessToken, Hint: "access_token", ClientOK: true}}
	if diff := cmp.Diff(want, f.revocations()); diff != "" {
		t.Errorf("revocations (-want +got):\n%s", diff)
	}
	if _, err := p.(upstream.Refresher).Refresh(context.Background(), id); err == nil {
		t.Error("Refresh after revocation succeeded")
	}

	noEndpoint := newFakeUpstream(t)
	noEndpoint.noRevocation = true
	p2 := newProvider(t, noEndpoint, nil)
	id2, err := codeLogin(t, noEndpoint, p2, "alice", "n", "n")
	if err != nil {
		t.Fatal(err)
	}
	if err := p2.(upstream.Revoker).RevokeUpstream(context.Background(), id2.UpstreamData); err != nil {
		t.Errorf("RevokeUpstream without an endpoint: %v", err)
	}
	if got := noEndpoint.revocations(); len(got) != 0 {
		t.Errorf("revocations without an endpoint: %+v", got)
	}
}
