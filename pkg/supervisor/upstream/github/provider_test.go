// SPDX-License-Identifier: Apache-2.0

package github_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream/github"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream/github/githubtest"
)

func TestProviderBasics(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	p := newProvider(t, f, nil)
	if p.Type() != upstream.TypeGitHub || p.Name() != "gh" || p.Namespace() != "ns" || p.UID() != "uid-1" ||
		!cmp.Equal(p.Flows(), []string{upstream.FlowBrowserAuthcode}) || p.APIBase() != f.APIBase() {
		t.Errorf("provider %s %s/%s %s %v %s", p.Type(), p.Namespace(), p.Name(), p.UID(), p.Flows(), p.APIBase())
	}
	u, err := url.Parse(p.AuthorizeURL(upstream.AuthorizeRequest{RedirectURI: redirectURI, State: "st", Nonce: "n", CodeChallenge: "c"}))
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{"client_id": {githubtest.ClientID}, "redirect_uri": {redirectURI}, "state": {"st"}, "scope": {"read:user read:org"}}
	if u.Scheme+"://"+u.Host+u.Path != f.URL()+"/login/oauth/authorize" {
		t.Errorf("authorize endpoint %s", u)
	}
	if diff := cmp.Diff(want, u.Query()); diff != "" {
		t.Errorf("authorize parameters (-want +got):\n%s", diff)
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	tests := map[string]func(*github.Config){
		"bad host":           func(c *github.Config) { c.Host = "https://github.com" },
		"no client":          func(c *github.Config) { c.HTTPClient = nil },
		"no secret":          func(c *github.Config) { c.ClientSecret = "" },
		"bad username claim": func(c *github.Config) { c.Claims.Username = "email" },
		"bad groups claim":   func(c *github.Config) { c.Claims.Groups = "id" },
		"no allowed orgs":    func(c *github.Config) { c.Organizations.Allowed = nil },
		"all users and allowed": func(c *github.Config) {
			c.Organizations.Policy = idpv1alpha1.GitHubAllowedAuthOrganizationsPolicyAllGitHubUsers
		},
		"unknown policy": func(c *github.Config) { c.Organizations.Policy = "Everyone" },
	}
	for name, edit := range tests {
		cfg := github.Config{Host: f.Host(), HTTPClient: httpClient(f), ClientID: "id", ClientSecret: "secret"}
		cfg.Organizations.Allowed = []string{"acme"}
		edit(&cfg)
		if _, err := github.New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	allUsers := func(c *github.Config) {
		c.Organizations = idpv1alpha1.GitHubOrganizationsSpec{Policy: idpv1alpha1.GitHubAllowedAuthOrganizationsPolicyAllGitHubUsers}
	}
	tests := []struct {
		name         string
		edit         func(*github.Config)
		fake         func(*githubtest.Server)
		wantUsername string
		wantGroups   []string
		wantErr      error
	}{
		{name: "defaults: login:id and slugs of allowed orgs", wantUsername: "octocat:583231",
			wantGroups: []string{"acme/devs", "acme/platform-admins"}},
		{name: "username id", edit: func(c *github.Config) { c.Claims.Username = idpv1alpha1.GitHubUsernameID },
			wantUsername: "583231", wantGroups: []string{"acme/devs", "acme/platform-admins"}},
		{name: "username login and team names", edit: func(c *github.Config) {
			c.Claims = idpv1alpha1.GitHubClaims{Username: idpv1alpha1.GitHubUsernameLogin, Groups: idpv1alpha1.GitHubGroupNameName}
		}, wantUsername: "octocat", wantGroups: []string{"acme/Devs", "acme/Platform Admins"}},
		{name: "allowed orgs compare case-insensitively", edit: func(c *github.Config) { c.Organizations.Allowed = []string{"ACME"} },
			wantUsername: "octocat:583231", wantGroups: []string{"acme/devs", "acme/platform-admins"}},
		{name: "all GitHub users keep every team", edit: allUsers, wantUsername: "octocat:583231",
			wantGroups: []string{"acme/devs", "acme/platform-admins", "other/ops"}},
		{name: "member of no allowed org", edit: func(c *github.Config) { c.Organizations.Allowed = []string{"elsewhere"} },
			wantErr: github.ErrNotInAllowedOrganizations},
		{name: "no teams is no groups", fake: func(f *githubtest.Server) { f.SetTeams("octocat") },
			wantUsername: "octocat:583231", wantGroups: []string{}},
		{name: "pagination with Link headers", fake: func(f *githubtest.Server) {
			f.SetPageSize(2)
			f.SetOrgs("octocat", "o1", "o2", "o3", "o4", "acme")
			teams := []githubtest.Team{}
			for i := range 7 {
				teams = append(teams, githubtest.Team{Org: "acme", Name: fmt.Sprint("T", i), Slug: fmt.Sprint("t", i)})
			}
			f.SetTeams("octocat", teams...)
		}, wantUsername: "octocat:583231", wantGroups: []string{"acme/t0", "acme/t1", "acme/t2", "acme/t3", "acme/t4", "acme/t5", "acme/t6"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			if tt.fake != nil {
				tt.fake(f)
			}
			p := newProvider(t, f, tt.edit)
			id, err := login(t, f, p)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ExchangeCode error %v, want %v", err, tt.wantErr)
				}
				assertNoSecrets(t, f, err.Error())
				return
			}
			if err != nil {
				t.Fatalf("ExchangeCode: %v", err)
			}
			if id.Subject != "583231" || id.Username != tt.wantUsername || !cmp.Equal(id.Groups, tt.wantGroups) {
				t.Errorf("identity %q %q %q, want 583231 %q %q", id.Subject, id.Username, id.Groups, tt.wantUsername, tt.wantGroups)
			}
			wantSub := f.APIBase() + "?idpName=My+GitHub&login=octocat&id=583231"
			if got := p.DownstreamSubject("My GitHub", id); got != wantSub {
				t.Errorf("DownstreamSubject = %q, want %q", got, wantSub)
			}
		})
	}
}

func TestLoginErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fake    func(*githubtest.Server)
		edit    func(*github.Config)
		code    string
		wantErr string
	}{
		{name: "unknown code", code: "nope", wantErr: "bad_verification_code"},
		{name: "wrong client secret", edit: func(c *github.Config) { c.ClientSecret = "wrong" }, wantErr: "incorrect_client_credentials"},
		{name: "token endpoint down", fake: func(f *githubtest.Server) { f.Fail("/login/oauth/access_token", http.StatusBadGateway) },
			wantErr: "responded 502"},
		{name: "user endpoint fails", fake: func(f *githubtest.Server) { f.Fail("/api/v3/user", http.StatusForbidden) },
			wantErr: "GET /user responded 403"},
		{name: "orgs endpoint fails", fake: func(f *githubtest.Server) { f.Fail("/api/v3/user/orgs", http.StatusInternalServerError) },
			wantErr: "GET /user/orgs responded 500"},
		{name: "teams endpoint fails", fake: func(f *githubtest.Server) { f.Fail("/api/v3/user/teams", http.StatusUnauthorized) },
			wantErr: "GET /user/teams responded 401"},
		{name: "too many pages", fake: func(f *githubtest.Server) {
			f.SetPageSize(1)
			teams := make([]githubtest.Team, 51)
			for i := range teams {
				teams[i] = githubtest.Team{Org: "acme", Name: fmt.Sprint(i), Slug: fmt.Sprint(i)}
			}
			f.SetTeams("octocat", teams...)
		}, wantErr: "more than 50 pages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			p := newProvider(t, f, tt.edit)
			code := authorizeCode(t, f, p).Get("code")
			if tt.code != "" {
				code = tt.code
			}
			if tt.fake != nil {
				tt.fake(f)
			}
			_, err := p.ExchangeCode(context.Background(), code, "", "", redirectURI)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ExchangeCode error %v, want one containing %q", err, tt.wantErr)
			}
			assertNoSecrets(t, f, err.Error())
		})
	}
}

func TestAuthorizeDenied(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.LoginAs("")
	if q := authorizeCode(t, f, newProvider(t, f, nil)); q.Get("error") != "access_denied" || q.Get("code") != "" {
		t.Errorf("redirect %v, want error=access_denied", q)
	}
}
