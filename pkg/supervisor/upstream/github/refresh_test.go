// SPDX-License-Identifier: Apache-2.0

package github_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream/github"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream/github/githubtest"
)

func TestRefresh(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		change     func(f *githubtest.Server, p *github.Provider, id *upstream.Identity)
		wantGroups []string
		wantErr    string
	}{
		{name: "unchanged", wantGroups: []string{"acme/devs", "acme/platform-admins"}},
		{name: "team removed", change: func(f *githubtest.Server, _ *github.Provider, _ *upstream.Identity) {
			f.SetTeams("octocat", githubtest.Team{Org: "acme", Name: "Devs", Slug: "devs"}, githubtest.Team{Org: "other", Name: "Ops", Slug: "ops"})
		}, wantGroups: []string{"acme/devs"}},
		{name: "login renamed", change: func(f *githubtest.Server, _ *github.Provider, _ *upstream.Identity) {
			f.Rename("octocat", "octodog")
		}, wantErr: "the GitHub login changed since login"},
		{name: "left the allowed organization", change: func(f *githubtest.Server, _ *github.Provider, _ *upstream.Identity) {
			f.SetOrgs("octocat", "other")
		}, wantErr: github.ErrNotInAllowedOrganizations.Error()},
		{name: "token revoked", change: func(_ *githubtest.Server, p *github.Provider, id *upstream.Identity) {
			if err := p.RevokeUpstream(context.Background(), id.UpstreamData); err != nil {
				t.Error(err)
			}
		}, wantErr: "GET /user responded 401"},
		{name: "teams unavailable", change: func(f *githubtest.Server, _ *github.Provider, _ *upstream.Identity) {
			f.Fail("/api/v3/user/teams", http.StatusServiceUnavailable)
		}, wantErr: "GET /user/teams responded 503"},
		{name: "another subject", change: func(_ *githubtest.Server, _ *github.Provider, id *upstream.Identity) {
			id.Subject = "1"
		}, wantErr: "another subject"},
		{name: "garbage upstream data", change: func(_ *githubtest.Server, _ *github.Provider, id *upstream.Identity) {
			id.UpstreamData = []byte("{")
		}, wantErr: "decode upstream data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			p := newProvider(t, f, nil)
			id, err := login(t, f, p)
			if err != nil {
				t.Fatal(err)
			}
			if tt.change != nil {
				tt.change(f, p, id)
			}
			got, err := p.Refresh(context.Background(), id)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Refresh error %v, want one containing %q", err, tt.wantErr)
				}
				assertNoSecrets(t, f, err.Error())
				return
			}
			if err != nil {
				t.Fatalf("Refresh: %v", err)
			}
			if got.Subject != id.Subject || got.Username != id.Username || !cmp.Equal(got.Groups, tt.wantGroups) ||
				string(got.UpstreamData) != string(id.UpstreamData) {
				t.Errorf("refreshed %q %q %q, want %q %q %q and the same upstream data", got.Subject, got.Username, got.Groups,
					id.Subject, id.Username, tt.wantGroups)
			}
		})
	}
}

func TestRefreshOtherProvider(t *testing.T) {
	t.Parallel()
	f, other := newFake(t), newFake(t)
	id, err := login(t, f, newProvider(t, f, nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newProvider(t, other, nil).Refresh(context.Background(), id); err == nil || !strings.Contains(err.Error(), "made for the GitHub API") {
		t.Errorf("Refresh with another provider's data: %v", err)
	}
}

func TestRevokeUpstream(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	p := newProvider(t, f, nil)
	id, err := login(t, f, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.RevokeUpstream(context.Background(), id.UpstreamData); err != nil {
		t.Fatalf("RevokeUpstream: %v", err)
	}
	if revoked := f.Revoked(); len(revoked) != 1 || !strings.Contains(string(id.UpstreamData), revoked[0]) {
		t.Errorf("revoked %d tokens, want the session's", len(revoked))
	}
	// An already revoked token is not an error (GitHub answers 404).
	if err := p.RevokeUpstream(context.Background(), id.UpstreamData); err != nil {
		t.Errorf("second RevokeUpstream: %v", err)
	}
	f.Fail("/api/v3/applications/"+githubtest.ClientID+"/token", http.StatusInternalServerError)
	err = p.RevokeUpstream(context.Background(), id.UpstreamData)
	if err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("RevokeUpstream with GitHub failing: %v", err)
	}
	assertNoSecrets(t, f, err.Error())
	if err := p.RevokeUpstream(context.Background(), []byte("x")); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("RevokeUpstream of garbage: %v", err)
	}
}
