//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
)

// BenchmarkSupervisorRefreshExchange measures what a kubectl user costs the supervisor
// every few minutes: a refresh (which re-validates the user at Dex with Dex's own refresh
// grant, rotates the refresh token and rewrites the session Secret) followed by a token
// exchange for a cluster audience (which reads the session Secret). Sessions live in
// Secrets of the real management cluster. It reports pairs per second and the latency
// percentiles of each half; run it with `make bench`.
func BenchmarkSupervisorRefreshExchange(b *testing.B) {
	s := startSupervisor(b)
	manifest := dexIdPYAML(s.namespace, "dex", true) + "---\n" + federationDomainYAML(s.namespace, "fd1", s.issuer("/fd1"), "dex")
	if err := applyYAML(testEnv.Management().Kubeconfig, manifest); err != nil {
		b.Fatal(err)
	}
	eventually(b, 60*time.Second, "the FederationDomain lists Dex", func() (bool, error) {
		var doc oidcprovider.IDPDiscovery
		err := s.getJSON(s.issuer("/fd1")+oidcprovider.PathIDPs, &doc)
		return err == nil && len(doc.IdentityProviders) == 1, err
	})
	user := testEnv.Users[0]
	tokens := s.passwordLogin(b, "/fd1", "dex", user.Email, user.Password)
	var refreshes, exchanges []time.Duration
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		t0 := time.Now()
		next, status, body := s.tokenRequest(b, "/fd1", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken},
			"client_id": {oidcprovider.CLIClientID}})
		if status != http.StatusOK {
			b.Fatalf("refresh: %d %s", status, body)
		}
		t1 := time.Now()
		_, status, body = s.tokenRequest(b, "/fd1", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"},
			"client_id": {oidcprovider.CLIClientID}, "audience": {"cluster-a"}, "subject_token": {next.AccessToken},
			"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}, "requested_token_type": {"urn:ietf:params:oauth:token-type:jwt"}})
		if status != http.StatusOK {
			b.Fatalf("exchange: %d %s", status, body)
		}
		refreshes, exchanges = append(refreshes, t1.Sub(t0)), append(exchanges, time.Since(t1))
		tokens = next
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(len(refreshes))/elapsed.Seconds(), "pairs/s")
	for name, d := range map[string][]time.Duration{"refresh": refreshes, "exchange": exchanges} {
		slices.Sort(d)
		b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, name+"-p50-ms")
		b.ReportMetric(float64(d[len(d)*99/100].Microseconds())/1000, name+"-p99-ms")
	}
}
