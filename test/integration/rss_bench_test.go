//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"bufio"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
)

// idleSettle is how long the servers idle before their memory is read: long enough for
// start-up garbage to be collected (the Go runtime forces a collection every 2 minutes at
// the latest, and returns freed memory to the OS over the following minutes).
const idleSettle = 150 * time.Second

// BenchmarkIdleRSS measures the resident memory of a supervisor and a concierge that
// serve what a small installation has (the supervisor: its aggregated API, one
// FederationDomain with one OIDC identity provider; the concierge: its aggregated API and
// one JWTAuthenticator), after one login through each and then idleSettle of rest. It
// reports the total and its anonymous (heap, stacks) and file-backed (the binary's pages)
// parts, from /proc/<pid>/status. The target is at most 60 MB each.
func BenchmarkIdleRSS(b *testing.B) {
	s, _ := startSupervisorWithAPI(b)
	s.dexDomain(b, true)
	user := testEnv.Users[0]
	tokens := s.passwordLogin(b, "/fd1", "dex", user.Email, user.Password)
	if _, status, body := s.tokenRequest(b, "/fd1", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken},
		"client_id": {oidcprovider.CLIClientID}}); status != http.StatusOK {
		b.Fatalf("refresh: %d %s", status, body)
	}

	c := sharedConcierge(b)
	name := createJWTAuthenticator(b, c.cluster, testEnv.Dex.ClientID)
	eventually(b, 30*time.Second, "a login through the concierge", func() (bool, error) {
		resp, err := anonymousConciergeClient(b, c.cluster).LoginV1alpha1().TokenCredentialRequests().Create(testContext(b),
			newTCR(dexIDToken(b, user), "JWTAuthenticator", name), metav1.CreateOptions{})
		return err == nil && resp.Status.Credential != nil, err
	})

	b.ResetTimer()
	time.Sleep(idleSettle) // once, whatever b.N is
	b.StopTimer()
	for _, p := range []struct {
		name string
		pid  int
	}{{"supervisor", s.proc.PID()}, {"concierge", c.proc.PID()}} {
		mem, err := procMemory(p.pid)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(mem["VmRSS"])/1e6, p.name+"-rss-MB")
		b.ReportMetric(float64(mem["RssAnon"])/1e6, p.name+"-anon-MB")
		b.ReportMetric(float64(mem["RssFile"])/1e6, p.name+"-file-MB")
	}
}

// procMemory reads the memory lines of /proc/<pid>/status, in bytes.
func procMemory(pid int) (map[string]int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(rest)
		if !ok || len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("/proc/%d/status %s: %w", pid, key, err)
		}
		out[key] = n * 1024
	}
	return out, sc.Err()
}
