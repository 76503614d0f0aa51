//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
	"github.com/selkie-dev/selkie/test/env"
	"github.com/selkie-dev/selkie/test/env/demo"
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
	profiling, profilingAddr := profilingArgs()
	s, _ := startSupervisorWithAPI(b, profiling...)
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
	if dir := os.Getenv(benchProfilesEnv); dir != "" {
		for _, p := range []struct{ name, addr string }{{"supervisor", profilingAddr}, {"concierge", c.profiling}} {
			if p.addr != "" {
				path := filepath.Join(dir, "IdleRSS-"+p.name+"-heap.pprof")
				if err := saveProfile(testContext(b), "http://"+p.addr+"/debug/pprof/heap", path); err != nil {
					b.Fatalf("heap profile: %v", err)
				}
				b.Logf("wrote a heap profile to %s", path)
			}
		}
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

// BenchmarkIdleRSSInCluster measures what users run: the pods of `make demo`'s in-cluster
// installation (the image built here, imported into the nodes, two replicas of each server
// installed with the Helm chart), after the demo's logins and then idleSettle of rest. It
// reports, for each server, the largest of its replicas' resident memory and that
// replica's anonymous and file-backed parts, read from /proc/<pid>/status of the
// containers' processes (the nodes share this machine's kernel).
//
// The figure differs from BenchmarkIdleRSS's because the kernel maps a program's pages a
// page-cache folio at a time: a binary written by the Go linker sits in the page cache in
// folios of up to 2 MiB, so each page the process touches maps up to 2 MiB of it, while an
// image layer unpacked by containerd is written in small pieces and maps 64 KiB per touch.
func BenchmarkIdleRSSInCluster(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	d := startDemo(b, ctx, demo.Options{Dir: b.TempDir(), InCluster: true})

	b.ResetTimer()
	time.Sleep(idleSettle) // once, whatever b.N is
	b.StopTimer()
	for _, c := range []struct {
		name, ns string
		cluster  *env.ControlPlane
	}{{"supervisor", demo.SupervisorNamespace, d.Mgmt}, {"concierge", demo.ConciergeNamespace, d.Workload}} {
		pids, err := podProcesses(ctx, d.Env, c.cluster, c.ns)
		if err != nil {
			b.Fatal(err)
		}
		if len(pids) != 2 {
			b.Fatalf("%s: %d running containers, want 2 (one per replica)", c.ns, len(pids))
		}
		var largest map[string]int64
		for _, pid := range pids {
			mem, err := procMemory(pid)
			if err != nil {
				b.Fatal(err)
			}
			if largest == nil || mem["VmRSS"] > largest["VmRSS"] {
				largest = mem
			}
		}
		b.ReportMetric(float64(largest["VmRSS"])/1e6, c.name+"-rss-MB")
		b.ReportMetric(float64(largest["RssAnon"])/1e6, c.name+"-anon-MB")
		b.ReportMetric(float64(largest["RssFile"])/1e6, c.name+"-file-MB")
	}
}

// podProcesses returns the host process IDs of the running containers of namespace ns on
// cluster's nodes, from the nodes' containerd.
func podProcesses(ctx context.Context, e *env.Environment, cluster *env.ControlPlane, ns string) ([]int, error) {
	c := slices.Index(e.ControlPlanes, cluster)
	if c < 0 || c >= len(e.Nodes) {
		return nil, fmt.Errorf("the environment has no nodes for the cluster of %s", ns)
	}
	var pids []int
	for _, n := range e.Nodes[c] {
		ids, err := n.CrictlStdout(ctx, "ps", "-q", "--state", "running", "--label", "io.kubernetes.pod.namespace="+ns)
		if err != nil {
			return nil, err
		}
		for _, id := range strings.Fields(ids) {
			out, err := n.CrictlStdout(ctx, "inspect", "-o", "go-template", "--template", "{{.info.pid}}", id)
			if err != nil {
				return nil, err
			}
			pid, err := strconv.Atoi(out)
			if err != nil || pid <= 1 {
				return nil, fmt.Errorf("container %s on node %s: process ID %q", id, n.Name, out)
			}
			pids = append(pids, pid)
		}
	}
	return pids, nil
}
