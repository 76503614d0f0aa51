// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	conciergeclient "github.com/selkie-dev/selkie/generated/client/concierge/clientset/versioned"
	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/certauthority"
	"github.com/selkie-dev/selkie/test/env"
)

// BenchmarkProxyProcesses measures the impersonation proxy as it ships, a `selkie-concierge
// serve` process on a control plane of its own, against its floor: selkie-barehop
// (test/env/cmd/selkie-barehop), a bare HTTP/2 reverse-proxy process that sends the
// proxy's ServiceAccount token and the Impersonate-* headers the proxy would send for
// the benchmark user, and nothing else. Each round GETs one ConfigMap and LISTs the 20 of
// the namespace by label, 512 bytes each, straight from kube-apiserver (a cluster-CA
// client certificate), through the proxy with a certificate of its signer CA and with one
// of the cluster CA, and through the bare hop, interleaved so that every path sees the
// same machine load, each round starting at the next path. It reports median latencies,
// the proxy/bare-hop ratios, and the CPU both processes spent per request they served,
// read from their CPU-time clocks before and after each of proxyCPUBlocks blocks of the
// loop: the medians over the blocks of each figure and of the proxy's extra CPU over
// the bare hop (the log has every block). The concierge also runs controllers, so its
// CPU over an idle interval as long as the loop, measured right after it, is subtracted
// in proportion. The concierge logs at info, as in production.
func BenchmarkProxyProcesses(b *testing.B) {
	// 405 rounds in 9 blocks (an odd number, so that a median is one block's figure):
	// 180 proxy requests and 90 through the bare hop a block.
	const proxyRounds, proxyCPUBlocks = 405, 9
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	b.Cleanup(cancel)
	c := startBenchConcierge(b, ctx)
	ns := "proxy-bench"
	c.grantConfigMapReaders(b, ctx, ns, "proxy-devs")
	for i := range 20 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%02d", i), Labels: map[string]string{"app": "bench"}},
			Data: map[string]string{"k": strings.Repeat("v", 512)}}
		if _, err := c.admin.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}

	clusterCert := issueCert(b, c.clusterCA, "bench-user", "proxy-devs")
	signerCert := issueCert(b, c.signer, "bench-user", "proxy-devs")
	// What the proxy sends for signerCert: kube-apiserver's x509 authenticator, which the
	// proxy runs, names a certificate by the SHA-256 of its DER.
	block, _ := pem.Decode(signerCert.CertPEM)
	if block == nil {
		b.Fatal("the signer certificate is not PEM")
	}
	fingerprint := sha256.Sum256(block.Bytes)
	hop, hopProc := startBareHopProcess(b, ctx, c, "bench-user", []string{"proxy-devs", "system:authenticated"},
		"X509SHA256="+hex.EncodeToString(fingerprint[:]))

	direct := rest.AnonymousClientConfig(c.adminCfg)
	direct.CertData, direct.KeyData = clusterCert.CertPEM, clusterCert.KeyPEM
	viaProxy := func(kp *certauthority.KeyPair) *rest.Config {
		return &rest.Config{Host: c.endpoint, TLSClientConfig: rest.TLSClientConfig{CAData: c.servingCA, CertData: kp.CertPEM, KeyData: kp.KeyPEM}}
	}
	// Its certificate is self-signed and made at start: not verifying it costs the floor
	// nothing it would not cost otherwise.
	bare := &rest.Config{Host: hop, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}
	targets := []struct {
		name string
		cfg  *rest.Config
	}{{"direct", direct}, {"proxy", viaProxy(signerCert)}, {"proxy-cluster-ca", viaProxy(clusterCert)}, {"bare-hop", bare}}
	const proxyTarget, proxyClusterCATarget, bareHopTarget = 1, 2, 3
	clients := make([]kubernetes.Interface, len(targets))
	for i, t := range targets {
		t.cfg.QPS = -1 // no client-side rate limiting: measure the servers
		clients[i] = kubernetes.NewForConfigOrDie(t.cfg)
	}
	ops := configMapOps(ctx, ns)
	timed := func(op, target int) time.Duration {
		start := time.Now()
		if err := ops[op].do(clients[target]); err != nil {
			b.Fatalf("%s %s: %v\nconcierge log: %s", targets[target].name, ops[op].name, err, c.proc.LogFile)
		}
		return time.Since(start)
	}
	for i, t := range targets {
		eventually(b, 30*time.Second, "RBAC for the benchmark user applies through "+t.name, func() (bool, error) {
			err := ops[1].do(clients[i])
			return err == nil, err
		})
	}
	// Each round starts at the next target, so that no path always comes first after
	// another process had the CPU (its threads then wake on cold caches), nor always
	// second.
	rounds := 0
	round := func(record func(op, target int, d time.Duration)) {
		rounds++
		for op := range ops {
			for k := range targets {
				i := (k + rounds) % len(targets)
				record(op, i, timed(op, i))
			}
		}
	}
	for range 50 { // warm connections and every cache on every path
		round(func(int, int, time.Duration) {})
	}

	samples := make([][][]time.Duration, len(ops))
	for op := range ops {
		samples[op] = make([][]time.Duration, len(targets))
	}
	record := func(op, target int, d time.Duration) { samples[op][target] = append(samples[op][target], d) }
	// The loop runs in blocks, each with its own CPU figures: a burst of other work on
	// the machine then spoils one block, which the medians below leave out.
	type cpuBlock struct{ elapsed, concierge, hop time.Duration }
	blocks := make([]cpuBlock, proxyCPUBlocks)
	start := time.Now()
	for i := range blocks {
		conciergeBefore, hopBefore, blockStart := processCPU(b, c.proc), processCPU(b, hopProc), time.Now()
		for range proxyRounds / proxyCPUBlocks { // interleaved, so that every path sees the same machine load
			round(record)
		}
		blocks[i] = cpuBlock{elapsed: time.Since(blockStart), concierge: processCPU(b, c.proc) - conciergeBefore, hop: processCPU(b, hopProc) - hopBefore}
	}
	elapsed := time.Since(start)
	// The concierge's controllers, leader election and informers run whether or not
	// anyone uses the proxy: their share is what it spends over as long an idle interval.
	idleBefore := processCPU(b, c.proc)
	idleStart := time.Now()
	select {
	case <-ctx.Done():
		b.Fatal(ctx.Err())
	case <-time.After(elapsed):
	}
	idleElapsed := time.Since(idleStart)
	idlePerSecond := float64(processCPU(b, c.proc)-idleBefore) / idleElapsed.Seconds()

	µs := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	for op, o := range ops {
		for i, t := range targets {
			b.ReportMetric(µs(median(samples[op][i])), o.name+"-"+t.name+"-µs")
		}
		floor := float64(median(samples[op][bareHopTarget]))
		b.ReportMetric(float64(median(samples[op][proxyTarget]))/floor, o.name+"-proxy/bare-hop")
		b.ReportMetric(float64(median(samples[op][proxyClusterCATarget]))/floor, o.name+"-proxy-cluster-ca/bare-hop")
	}
	// Per block: each round sends every op through both proxy paths and the bare hop.
	proxyRequests := float64(proxyRounds / proxyCPUBlocks * len(ops) * 2)
	hopRequests := float64(proxyRounds / proxyCPUBlocks * len(ops))
	var proxyCPU, hopCPU, extraCPU []time.Duration
	for i, bl := range blocks {
		idleShare := time.Duration(idlePerSecond * bl.elapsed.Seconds())
		proxy := time.Duration(float64(bl.concierge-idleShare) / proxyRequests)
		hop := time.Duration(float64(bl.hop) / hopRequests)
		proxyCPU, hopCPU, extraCPU = append(proxyCPU, proxy), append(hopCPU, hop), append(extraCPU, proxy-hop)
		b.Logf("block %d of %s: concierge %s CPU (idle share %s), %.0f µs per proxy request; bare hop %s CPU, %.0f µs per request",
			i+1, bl.elapsed.Round(time.Millisecond), bl.concierge.Round(time.Microsecond), idleShare.Round(time.Microsecond), µs(proxy),
			bl.hop.Round(time.Microsecond), µs(hop))
	}
	b.ReportMetric(µs(median(proxyCPU)), "proxy-cpu-µs/req")
	b.ReportMetric(µs(median(hopCPU)), "bare-hop-cpu-µs/req")
	b.ReportMetric(µs(median(extraCPU)), "proxy-extra-cpu-µs/req")
	b.ReportMetric(µs(time.Duration(idlePerSecond)), "proxy-idle-cpu-µs/s")
	b.Logf("timed loop %s in %d blocks; idle interval %s", elapsed.Round(time.Millisecond), len(blocks), idleElapsed.Round(time.Millisecond))

	if dir := os.Getenv(benchProfilesEnv); dir != "" && c.profiling != "" {
		cpuProfileUnderLoad(b, ctx, c.profiling, filepath.Join(dir, "ProxyProcesses-proxy.pprof"), 30*time.Second,
			func() { round(func(int, int, time.Duration) {}) })
	}
}

// benchConcierge is a selkie-concierge process whose only strategy is the impersonation
// proxy, on a control plane of its own, set up as TestConciergeProxyStrategy does.
type benchConcierge struct {
	cp        *env.ControlPlane
	admin     kubernetes.Interface
	adminCfg  *rest.Config
	proc      *env.Process
	endpoint  string // the proxy's https URL
	servingCA []byte // verifies the proxy's serving certificate
	signer    *certauthority.CA
	clusterCA *certauthority.CA
	profiling string // host:port of the concierge's /debug/pprof/, when asked for
}

func startBenchConcierge(b *testing.B, ctx context.Context) *benchConcierge {
	b.Helper()
	bins, err := env.FindBinaries(ctx)
	if err != nil {
		b.Fatal(err)
	}
	cp, err := env.StartControlPlaneWith(ctx, bins, b.TempDir(), "proxy-bench", env.ControlPlaneOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cp.Close)
	c := &benchConcierge{cp: cp, adminCfg: adminConfig(b, cp.AdminKubeconfig)}
	c.admin = kubernetes.NewForConfigOrDie(c.adminCfg)
	kubeconfig := cp.AdminKubeconfig
	if c.clusterCA, err = loadCA(cp.ClusterCA.CertFile, cp.ClusterCA.KeyFile); err != nil {
		b.Fatal(err)
	}
	if err := applyCRDs(b, kubeconfig); err != nil {
		b.Fatal(err)
	}
	port, proxyPort := freePort(b), freePort(b)
	install := strings.SplitN(conciergeInstallYAML(port), "---\napiVersion: apiregistration.k8s.io/v1", 2)
	if err := applyYAML(kubeconfig, install[0]); err != nil {
		b.Fatal(err)
	}
	grantProxyAccount(b, ctx, c.admin, "selkie-concierge-impersonation-proxy")
	cis := conciergeclient.NewForConfigOrDie(c.adminCfg).ConfigV1alpha1().CredentialIssuers()
	if _, err := cis.Create(ctx, &configv1alpha1.CredentialIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: "selkie-concierge-config"},
		Spec: configv1alpha1.CredentialIssuerSpec{ImpersonationProxy: &configv1alpha1.ImpersonationProxySpec{
			Mode:             configv1alpha1.ImpersonationProxyModeEnabled,
			Service:          configv1alpha1.ImpersonationProxyServiceSpec{Type: configv1alpha1.ImpersonationProxyServiceTypeNone},
			ExternalEndpoint: "127.0.0.1:" + strconv.Itoa(proxyPort),
		}},
	}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}

	work := b.TempDir()
	args := []string{"serve", "--kubeconfig", kubeconfig, "--namespace", conciergeNamespace, "--bind-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(port), "--impersonation-proxy-port", strconv.Itoa(proxyPort), "--csr-signing=false",
		"--log-level", "info", "--cert-dir", filepath.Join(work, "certs")}
	if profiling, addr := profilingArgs(); addr != "" {
		c.profiling = addr
		args = append(args, profiling...)
	}
	if c.proc, err = startProcess(selkieBins.concierge, filepath.Join(work, "concierge.log"), args...); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.proc.Stop)
	if err := waitHealthy(ctx, port); err != nil {
		b.Fatalf("concierge did not answer /healthz: %v\n%s", err, env.Tail(c.proc.LogFile, 25))
	}
	// The APIServices too, as in a real installation: the aggregator's probes of the
	// concierge are part of its idle cost.
	if err := applyYAML(kubeconfig, "apiVersion: apiregistration.k8s.io/v1"+install[1]); err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"v1alpha1.login.concierge.selkie.dev", "v1alpha1.identity.concierge.selkie.dev"} {
		if out, err := exec.CommandContext(ctx, testEnv.Kubectl, "--kubeconfig", kubeconfig, "wait", "--for=condition=Available",
			"--timeout=60s", "apiservice/"+name).CombinedOutput(); err != nil {
			b.Fatalf("APIService %s not Available: %v\n%s\n%s", name, err, out, env.Tail(c.proc.LogFile, 25))
		}
	}

	info := advertisedProxy(b, ctx, cis)
	c.endpoint = info.Endpoint
	if c.servingCA, err = base64.StdEncoding.DecodeString(info.CertificateAuthorityData); err != nil || len(c.servingCA) == 0 {
		b.Fatalf("certificateAuthorityData %q: %v", info.CertificateAuthorityData, err)
	}
	secret, err := c.admin.CoreV1().Secrets(conciergeNamespace).Get(ctx, "selkie-concierge-impersonation-proxy-signer", metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if c.signer, err = certauthority.Load(secret.Data["ca.crt"], secret.Data["ca.key"]); err != nil {
		b.Fatalf("the proxy signer CA: %v", err)
	}
	return c
}

func loadCA(certFile, keyFile string) (*certauthority.CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	return certauthority.Load(certPEM, keyPEM)
}

// grantConfigMapReaders creates namespace ns and lets group get and list its ConfigMaps.
func (c *benchConcierge) grantConfigMapReaders(b *testing.B, ctx context.Context, ns, group string) {
	b.Helper()
	if _, err := c.admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	if _, err := c.admin.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "configmap-reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list"}}}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	if _, err := c.admin.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "configmap-reader"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "configmap-reader"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: group}}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
}

// startBareHopProcess builds selkie-barehop and starts it in front of c's kube-apiserver
// with the token of the proxy's own ServiceAccount and the Impersonate-* headers the
// proxy sends for user; it returns the hop's URL and process. Both go at cleanup.
func startBareHopProcess(b *testing.B, ctx context.Context, c *benchConcierge, user string, groups []string, credentialID string) (string, *env.Process) {
	b.Helper()
	work := b.TempDir()
	bin := filepath.Join(work, "selkie-barehop")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, testEnvRepoFileNoT("test/env/cmd/selkie-barehop")).CombinedOutput(); err != nil {
		b.Fatalf("build selkie-barehop: %v\n%s", err, out)
	}
	seconds := int64(time.Hour.Seconds())
	tr, err := c.admin.CoreV1().ServiceAccounts(conciergeNamespace).CreateToken(ctx, "selkie-concierge-impersonation-proxy",
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds}}, metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	tokenFile := filepath.Join(work, "token")
	if err := os.WriteFile(tokenFile, []byte(tr.Status.Token), 0o600); err != nil {
		b.Fatal(err)
	}
	args := []string{"-listen", "127.0.0.1:" + strconv.Itoa(freePort(b)), "-upstream", c.cp.APIURL,
		"-upstream-ca", c.cp.ClusterCA.CertFile, "-token-file", tokenFile, "-user", user, "-credential-id", credentialID}
	for _, g := range groups {
		args = append(args, "-group", g)
	}
	proc, err := startProcess(bin, filepath.Join(work, "barehop.log"), args...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(proc.Stop)
	var url string
	eventually(b, 30*time.Second, "selkie-barehop listens", func() (bool, error) {
		if proc.Exited() {
			b.Fatalf("selkie-barehop exited:\n%s", env.Tail(proc.LogFile, 10))
		}
		data, err := os.ReadFile(proc.LogFile)
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "https://") {
				url = line
				return true, nil
			}
		}
		return false, err
	})
	return url, proc
}

// processCPU is the CPU time a process (all its threads, including those that exited) has
// used so far, to the nanosecond: the process's CPU-time clock, which Linux gives any
// process for another's PID (clock_getcpuclockid(3)). /proc/<pid>/stat counts in clock
// ticks of 10 ms, which over a benchmark loop of a few hundred requests is an error of
// tens of µs a request, as large as the differences the benchmarks look for.
func processCPU(b *testing.B, p *env.Process) time.Duration {
	b.Helper()
	// The clock ID of a process's CPU time: the complement of its PID shifted left by
	// three, with CPUCLOCK_SCHED (2) and without CPUCLOCK_PERTHREAD_MASK (4).
	clock := int32((^p.PID())<<3 | 2)
	var ts unix.Timespec
	if err := unix.ClockGettime(clock, &ts); err != nil {
		b.Fatalf("CPU-time clock of process %d: %v", p.PID(), err)
	}
	return time.Duration(ts.Nano())
}
