// SPDX-License-Identifier: Apache-2.0

package github_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream/github"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream/github/githubtest"
)

const redirectURI = "https://supervisor.example.com/fd/callback"

// octocat is a member of acme (two teams) and other (one team).
func octocat() githubtest.User {
	return githubtest.User{Login: "octocat", ID: 583231, Orgs: []string{"acme", "other"}, Teams: []githubtest.Team{
		{Org: "acme", Name: "Platform Admins", Slug: "platform-admins"},
		{Org: "acme", Name: "Devs", Slug: "devs"},
		{Org: "other", Name: "Ops", Slug: "ops"},
	}}
}

// newFake starts a fake GitHub with octocat logged in.
func newFake(t *testing.T) *githubtest.Server {
	t.Helper()
	f := githubtest.Start(t)
	f.AddUser(octocat())
	f.LoginAs("octocat")
	return f
}

// httpClient trusts the fake's CA and does not follow redirects.
func httpClient(f *githubtest.Server) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(f.CAPEM())
	return &http.Client{Timeout: 10 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// newProvider builds a provider for f allowing the acme organization; edit changes the config.
func newProvider(t *testing.T, f *githubtest.Server, edit func(*github.Config)) *github.Provider {
	t.Helper()
	cfg := github.Config{Namespace: "ns", Name: "gh", UID: "uid-1", Host: f.Host(), HTTPClient: httpClient(f),
		ClientID: githubtest.ClientID, ClientSecret: githubtest.ClientSecret}
	cfg.Organizations.Allowed = []string{"acme"}
	if edit != nil {
		edit(&cfg)
	}
	p, err := github.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// authorizeCode follows the provider's authorize URL to the fake and returns the
// code (or the error) it redirects back with.
func authorizeCode(t *testing.T, f *githubtest.Server, p *github.Provider) url.Values {
	t.Helper()
	resp, err := httpClient(f).Get(p.AuthorizeURL(upstream.AuthorizeRequest{RedirectURI: redirectURI, State: "state-1",
		Nonce: "nonce-1", CodeChallenge: "challenge"}))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), redirectURI+"?") {
		t.Fatalf("authorize: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if loc.Query().Get("state") != "state-1" {
		t.Fatalf("authorize returned state %q", loc.Query().Get("state"))
	}
	return loc.Query()
}

// login runs the whole web flow against f.
func login(t *testing.T, f *githubtest.Server, p *github.Provider) (*upstream.Identity, error) {
	t.Helper()
	code := authorizeCode(t, f, p).Get("code")
	if code == "" {
		t.Fatal("the fake returned no code")
	}
	return p.ExchangeCode(context.Background(), code, "verifier", "nonce-1", redirectURI)
}

// assertNoSecrets fails when s contains a code, token or client secret of f.
func assertNoSecrets(t *testing.T, f *githubtest.Server, s string) {
	t.Helper()
	for _, secret := range f.Secrets() {
		if strings.Contains(s, secret) {
			t.Errorf("%q contains a secret", s)
		}
	}
}
