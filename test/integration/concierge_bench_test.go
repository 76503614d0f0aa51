// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	conciergeclient "github.com/selkie-dev/selkie/generated/client/concierge/clientset/versioned"
	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	identityv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/identity/v1alpha1"
	loginv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/login/v1alpha1"
	"github.com/selkie-dev/selkie/test/env"
)

// proxySamples is how many interleaved rounds the proxy benchmarks time, whatever b.N
// is: make bench runs every integration benchmark once (-benchtime 1x).
const proxySamples = 200

// Load shape of the throughput benchmarks: benchWorkers clients, each sending one
// request after the other, in windows of benchWindow that alternate between the measured
// path and its floor benchRounds times, so that both see the same machine. Two clients
// on this 2-core machine, where the API server, the aggregator and the concierge share
// the cores with them, keep latencies those of a busy server rather than of a queue
// (with eight, the rates hardly grow and p99 quadruples).
const (
	benchWorkers = 2
	benchWindow  = 2 * time.Second
	benchRounds  = 3
)

// BenchmarkTokenCredentialRequest measures logins through the real path: an anonymous
// TokenCredentialRequest to kube-apiserver, proxied by the aggregator to the concierge,
// which validates a Dex ID token and signs a certificate with the cluster key. Its floor,
// in alternating windows of the same run, is a WhoAmIRequest through the same path:
// kube-apiserver, the aggregator and the concierge's API server, without the token
// validation and the certificate.
//
// kube-apiserver closes an anonymous client's HTTP/2 connection after each request (its
// defence against unauthenticated HTTP/2 floods), so a TokenCredentialRequest over
// HTTP/2, as the CLI sends it, pays a TLS handshake every time. Two pairs are therefore
// measured, each like for like: on kept-alive connections (HTTP/1.1 for the anonymous
// logins, "tcr" and "whoami"), the servers' work per request; and with a new connection
// per request ("tcr-new-conn", over HTTP/2 as the CLI, and "whoami-new-conn"), what one
// CLI invocation costs. A fifth path, "tcr-cel", is "tcr" with a JWTAuthenticator that
// checks claim rules and maps the identity with CEL (as pipelines do), beside the
// claim-name one. It reports each one's rate and latency percentiles and the ratios of
// the rates; run it with `make bench`.
func BenchmarkTokenCredentialRequest(b *testing.B) {
	c := sharedConcierge(b)
	name := createJWTAuthenticator(b, c.cluster, testEnv.Dex.ClientID)
	celName := createCELJWTAuthenticator(b, c.cluster, testEnv.Dex.ClientID)
	user, _ := testEnv.User("pinny")
	idToken := dexIDToken(b, user)
	req := newTCR(idToken, "JWTAuthenticator", name)
	celReq := newTCR(idToken, "JWTAuthenticator", celName)
	base := adminConfig(b, testEnv.Clusters[c.cluster].Kubeconfig)
	anonymous := func(keepAlive bool) *rest.Config {
		cfg := &rest.Config{Host: base.Host, TLSClientConfig: rest.TLSClientConfig{CAData: base.CAData}, QPS: -1}
		if keepAlive {
			cfg.TLSClientConfig.NextProtos = []string{"http/1.1"}
		}
		return cfg
	}
	admin := func(keepAlive bool) *rest.Config {
		cfg := rest.CopyConfig(base)
		cfg.QPS = -1
		if !keepAlive {
			cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return closeEach{rt} }
		}
		return cfg
	}
	tcrOf := func(req *loginv1alpha1.TokenCredentialRequest, cfg *rest.Config) func(context.Context) error {
		tcrs := conciergeclient.NewForConfigOrDie(cfg).LoginV1alpha1().TokenCredentialRequests()
		return func(ctx context.Context) error {
			resp, err := tcrs.Create(ctx, req, metav1.CreateOptions{})
			if err == nil && resp.Status.Credential == nil {
				err = fmt.Errorf("no credential: %s", deref(resp.Status.Message))
			}
			return err
		}
	}
	tcr := func(cfg *rest.Config) func(context.Context) error { return tcrOf(req, cfg) }
	whoami := func(cfg *rest.Config) func(context.Context) error {
		whoamis := conciergeclient.NewForConfigOrDie(cfg).IdentityV1alpha1().WhoAmIRequests()
		return func(ctx context.Context) error {
			resp, err := whoamis.Create(ctx, &identityv1alpha1.WhoAmIRequest{}, metav1.CreateOptions{})
			if err == nil && resp.Status.KubernetesUserInfo.User.Username == "" {
				err = errors.New("no username")
			}
			return err
		}
	}
	paths := []benchPath{
		{name: "tcr", profile: c.profiling, do: tcr(anonymous(true))},
		{name: "whoami", do: whoami(admin(true))},
		{name: "tcr-new-conn", do: tcr(anonymous(false))},
		{name: "whoami-new-conn", do: whoami(admin(false))},
		{name: "tcr-cel", do: tcrOf(celReq, anonymous(true))},
	}
	runBenchPaths(b, paths)
	b.ReportMetric(paths[0].rate()/paths[1].rate(), "tcr/whoami")
	b.ReportMetric(paths[2].rate()/paths[3].rate(), "tcr-new-conn/whoami-new-conn")
	b.ReportMetric(paths[4].rate()/paths[0].rate(), "tcr-cel/tcr")
}

// createCELJWTAuthenticator is createJWTAuthenticator for Dex with CEL: two claim rules
// and username and groups expressions.
func createCELJWTAuthenticator(t testing.TB, cluster int, audience string) string {
	t.Helper()
	return createJWTAuthenticatorWith(t, testEnv.Clusters[cluster].Kubeconfig, audience, func(spec *authenticationv1alpha1.JWTAuthenticatorSpec) {
		spec.ClaimValidationRules = []authenticationv1alpha1.ClaimValidationRule{
			{Expression: `claims.email_verified == true`, Message: "verified addresses only"},
			{Expression: `claims.email.endsWith("@example.com")`, Message: "example.com accounts only"},
		}
		spec.Claims = authenticationv1alpha1.JWTTokenClaims{
			UsernameExpression: `claims.email`,
			GroupsExpression:   `dyn(claims.groups).map(g, "dex:" + g)`,
		}
	})
}

// closeEach asks for a new connection for every request (Connection: close), as a
// command-line client that makes one request per run does.
type closeEach struct{ rt http.RoundTripper }

func (c closeEach) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Close = true
	return c.rt.RoundTrip(r)
}

// benchProfilesEnv names a directory: when set, the benchmarks end with a CPU profile of
// the server they measure, taken under the same load after the measurement (so that the
// profiler does not weigh on it), written there as <benchmark>-<path>.pprof.
const benchProfilesEnv = "SELKIE_BENCH_PROFILES"

// profilingArgs are the flags that let a server started for a benchmark be profiled, and
// the address it then serves profiles on ("" when benchProfilesEnv is not set, or no port
// is free).
func profilingArgs() ([]string, string) {
	if os.Getenv(benchProfilesEnv) == "" {
		return nil, ""
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, ""
	}
	addr := l.Addr().String()
	l.Close()
	return []string{"--profiling-address", addr}, addr
}

// saveProfile writes the profile a server serves at url to path.
func saveProfile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err == nil {
		err = os.WriteFile(path, data, 0o600)
	}
	return err
}

// cpuProfileUnderLoad writes a CPU profile of d of the server whose profiles are at addr
// to path, running load over and over meanwhile.
func cpuProfileUnderLoad(b *testing.B, ctx context.Context, addr, path string, d time.Duration, load func()) {
	b.Helper()
	done := make(chan error, 1)
	go func() {
		done <- saveProfile(ctx, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(d.Seconds())), path)
	}()
	for {
		select {
		case err := <-done:
			if err != nil {
				b.Fatalf("CPU profile: %v", err)
			}
			b.Logf("wrote a %s CPU profile under load to %s", d, path)
			return
		default:
			load()
		}
	}
}

// benchPath is one kind of request of a throughput benchmark and what was measured.
type benchPath struct {
	name string
	do   func(context.Context) error
	// profile is where the server of the path serves its profiles (profilingArgs).
	profile string
	// workers is the number of concurrent clients (benchWorkers if zero).
	workers int
	// cpu, when set, returns the CPU time used so far by the process serving the path;
	// its growth during the path's windows is reported per request.
	cpu  func() time.Duration
	used time.Duration
	// idle, when set, returns the CPU time used so far by a process this path does not
	// use (idleName): its growth during the path's windows, per second, is that process's
	// background cost, the floor of its CPU per request on another path.
	idle      func() time.Duration
	idleName  string
	idleUsed  time.Duration
	latencies []time.Duration
	elapsed   time.Duration
	failures  int
	first     error
}

func (p *benchPath) rate() float64 { return float64(len(p.latencies)) / p.elapsed.Seconds() }

// runBenchPaths warms every path, runs the alternating windows once and reports, for
// each path, <name>-req/s, <name>-p50-ms and <name>-p99-ms (and <name>-cpu-ms/op with
// cpu). Every request must succeed.
func runBenchPaths(b *testing.B, paths []benchPath) {
	b.Helper()
	ctx := testContext(b)
	for i := range paths {
		for range 20 {
			if err := paths[i].do(ctx); err != nil {
				b.Fatalf("warm-up %s: %v", paths[i].name, err)
			}
		}
	}
	// One run of fixed length whatever b.N is.
	b.ResetTimer()
	for range benchRounds {
		for i := range paths {
			paths[i].window(ctx)
		}
	}
	b.StopTimer()
	if dir := os.Getenv(benchProfilesEnv); dir != "" {
		for i := range paths {
			if p := &paths[i]; p.profile != "" {
				path := filepath.Join(dir, strings.TrimPrefix(b.Name(), "Benchmark")+"-"+p.name+".pprof")
				cpuProfileUnderLoad(b, ctx, p.profile, path, 10*time.Second, func() {
					probe := *p
					probe.cpu, probe.latencies = nil, nil
					probe.window(ctx)
				})
			}
		}
	}
	for i := range paths {
		p := &paths[i]
		if p.failures > 0 {
			b.Errorf("%s: %d of %d requests failed; first: %v", p.name, p.failures, p.failures+len(p.latencies), p.first)
		}
		if len(p.latencies) == 0 {
			continue
		}
		slices.Sort(p.latencies)
		n := len(p.latencies)
		b.ReportMetric(p.rate(), p.name+"-req/s")
		b.ReportMetric(float64(p.latencies[n/2].Microseconds())/1000, p.name+"-p50-ms")
		b.ReportMetric(float64(p.latencies[min(n-1, n*99/100)].Microseconds())/1000, p.name+"-p99-ms")
		if p.cpu != nil {
			b.ReportMetric(float64(p.used.Microseconds())/1000/float64(n), p.name+"-cpu-ms/op")
		}
		if p.idle != nil {
			b.ReportMetric(float64(p.idleUsed.Microseconds())/1000/p.elapsed.Seconds(), p.idleName+"-idle-cpu-ms/s")
		}
	}
}

// window runs p's clients on it for benchWindow.
func (p *benchPath) window(ctx context.Context) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var cpu0, idle0 time.Duration
	if p.cpu != nil {
		cpu0 = p.cpu()
	}
	if p.idle != nil {
		idle0 = p.idle()
	}
	start := time.Now()
	deadline := start.Add(benchWindow)
	workers := p.workers
	if workers == 0 {
		workers = benchWorkers
	}
	for range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				t0 := time.Now()
				err := p.do(ctx)
				d := time.Since(t0)
				mu.Lock()
				if err != nil {
					p.failures++
					if p.first == nil {
						p.first = err
					}
				} else {
					p.latencies = append(p.latencies, d)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	p.elapsed += time.Since(start)
	if p.cpu != nil {
		p.used += p.cpu() - cpu0
	}
	if p.idle != nil {
		p.idleUsed += p.idle() - idle0
	}
}

// cpuOf is processCPU for benchPath.cpu.
func cpuOf(b *testing.B, p *env.Process) func() time.Duration {
	return func() time.Duration { return processCPU(b, p) }
}
