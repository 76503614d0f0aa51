//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
)

// BenchmarkSupervisorRefreshExchange measures what a kubectl user costs the supervisor
// every few minutes: a refresh (which re-validates the user at Dex with Dex's own refresh
// grant, rotates the refresh token and rewrites the session Secret) followed by a token
// exchange for a cluster audience (which reads the session Secret). Sessions live in
// Secrets of the real management cluster. The floor, in alternating windows of the same
// run, is Dex's refresh grant called directly: the upstream work a refresh cannot avoid.
// Dex keeps one refresh token per user and client, so each path is one user's session,
// refreshed by one client after the other (pinny through the supervisor, wally at Dex).
// It reports pairs and upstream refreshes per second, their latencies, the supervisor
// process's CPU time per pair, and its CPU time per second while Dex is called directly
// (its background work: leader election, informers, session GC), which is part of the
// per-pair figure without being the pairs' cost. A third path, fast-pair, does the same
// pairs through a second identity provider of the same FederationDomain, an upstream
// that keeps up (fastUpstream, in this process), with two clients, each with a session
// of its own: what the supervisor does when the upstream is not the bottleneck. Run it
// with `make bench`.
func BenchmarkSupervisorRefreshExchange(b *testing.B) {
	profiling, profilingAddr := profilingArgs()
	s := startSupervisor(b, profiling...)
	fastUsers := map[string]string{"fast-1@example.com": "password-1", "fast-2@example.com": "password-2"}
	fast := startFastUpstream(b, fastUsers)
	s.serveDomain(b, strings.Join([]string{dexIdPYAML(s.namespace, "dex", true),
		oidcIdPYAML(s.namespace, "fast", fast.issuer(), fast.clientID, fast.clientSecret, fast.caPEM, true),
		federationDomainYAML(s.namespace, "fd1", s.issuer("/fd1"), "dex", "fast")}, "---\n"), 2)
	// One session per worker: each refresh rotates its session's refresh token.
	fastSessions := make(chan *tokenSet, len(fastUsers))
	for user, password := range fastUsers {
		fastSessions <- s.passwordLogin(b, "/fd1", "fast", user, password)
	}
	pinny, _ := testEnv.User("pinny")
	wally, _ := testEnv.User("wally")
	tokens := s.passwordLogin(b, "/fd1", "dex", pinny.Email, pinny.Password)
	dex := dexRefresher(b)
	upstreamToken := dex.login(b, wally.Email, wally.Password)
	paths := []benchPath{
		{name: "pair", workers: 1, cpu: cpuOf(b, s.proc), do: func(context.Context) error {
			next, err := s.refreshExchange(tokens)
			if err == nil {
				tokens = next
			}
			return err
		}},
		{name: "fast-pair", workers: len(fastUsers), cpu: cpuOf(b, s.proc), profile: profilingAddr, do: func(context.Context) error {
			tokens := <-fastSessions
			next, err := s.refreshExchange(tokens)
			if err == nil {
				tokens = next
			}
			fastSessions <- tokens
			return err
		}},
		{name: "upstream-refresh", workers: 1, idle: cpuOf(b, s.proc), idleName: "supervisor", do: func(ctx context.Context) error {
			next, err := dex.refresh(ctx, upstreamToken)
			if err == nil {
				upstreamToken = next
			}
			return err
		}},
	}
	runBenchPaths(b, paths)
	b.ReportMetric(paths[0].rate()/paths[2].rate(), "pair/upstream-refresh")
}

// refreshExchange refreshes tokens and exchanges the new access token for a cluster
// audience, as kubectl's credential plugin does; it returns the refreshed tokens.
func (s *supervisor) refreshExchange(tokens *tokenSet) (*tokenSet, error) {
	post := func(form url.Values) (*tokenSet, error) {
		resp, err := s.client.PostForm(s.issuer("/fd1")+"/oauth2/token", form)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s: %d %s", form.Get("grant_type"), resp.StatusCode, body)
		}
		var out tokenSet
		return &out, json.Unmarshal(body, &out)
	}
	next, err := post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken}, "client_id": {oidcprovider.CLIClientID}})
	if err != nil {
		return nil, err
	}
	if _, err := post(url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"client_id": {oidcprovider.CLIClientID}, "audience": {"cluster-a"}, "subject_token": {next.AccessToken},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}, "requested_token_type": {"urn:ietf:params:oauth:token-type:jwt"}}); err != nil {
		return nil, err
	}
	return next, nil
}

// dexClient calls the environment's Dex as the supervisor's OIDC client does.
type dexClient struct {
	conf   *oauth2.Config
	client *http.Client
}

func dexRefresher(b *testing.B) *dexClient {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: caTLS(b, testEnv.CABundle),
		MaxIdleConnsPerHost: 2}}
	provider, err := oidc.NewProvider(oidc.ClientContext(testContext(b), client), testEnv.Dex.Issuer)
	if err != nil {
		b.Fatal(err)
	}
	return &dexClient{client: client, conf: &oauth2.Config{ClientID: testEnv.Dex.ClientID, ClientSecret: testEnv.Dex.ClientSecret,
		Endpoint: provider.Endpoint(), Scopes: []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "groups", "email", "profile"}}}
}

// login returns a Dex refresh token for the user (password grant).
func (d *dexClient) login(b *testing.B, username, password string) string {
	tok, err := d.conf.PasswordCredentialsToken(oidc.ClientContext(testContext(b), d.client), username, password)
	if err != nil || tok.RefreshToken == "" {
		b.Fatalf("Dex password grant: %v (refresh token %t)", err, tok != nil && tok.RefreshToken != "")
	}
	return tok.RefreshToken
}

// refresh redeems a Dex refresh token and returns the next one.
func (d *dexClient) refresh(ctx context.Context, rt string) (string, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.conf.Endpoint.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(d.conf.ClientID), url.QueryEscape(d.conf.ClientSecret))
	resp, err := d.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
	}
	if err := json.Unmarshal(body, &out); err != nil || resp.StatusCode != http.StatusOK || out.RefreshToken == "" || out.IDToken == "" {
		return "", fmt.Errorf("Dex refresh: %d %s", resp.StatusCode, body)
	}
	return out.RefreshToken, nil
}
