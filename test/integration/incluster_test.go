// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/selkie-dev/selkie/test/env/demo"
)

// startDemo runs the demo's flow with its narration in <opts.Dir>/demo.log (shown if it
// fails) and stops it when the test ends.
func startDemo(t testing.TB, ctx context.Context, opts demo.Options) *demo.Demo {
	t.Helper()
	out, err := os.Create(filepath.Join(opts.Dir, "demo.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	opts.Out = out
	start := time.Now()
	d, err := demo.Start(ctx, opts)
	if err != nil {
		narration, _ := os.ReadFile(out.Name())
		t.Fatalf("demo: %v\nits narration:\n%s", err, narration)
	}
	t.Cleanup(d.Close) // stops the servers and the environment by PID, before out is closed
	t.Logf("demo flow done in %s", time.Since(start).Round(time.Second))
	return d
}

// TestInClusterDemo runs `make demo`'s flow, which installs Selkie as pods from the image
// it builds (the supervisor and the concierge with the Helm chart, two replicas each, in namespaces enforcing PodSecurity "restricted") in an
// environment of its own next to the suite's, and logs in through them by password
// with Dex and LDAP. It then checks the pods, logs in again through the concierge's
// impersonation proxy, which has a load balancer address here, and uses exec, attach,
// logs, port-forward and cp through it against a real pod (ProxyStreams), and checks
// that one concierge pod at a time writes the CredentialIssuer (LeaderElection), and
// that a bounded load of logins, refreshes and credential requests fails only where it
// must while replicas are killed and the supervisor's peers restart (Faults), and
// that kubectl calls of a logged-in user never fail while pods are deleted and both
// Deployments roll to a new image (Disruption), and logs in by password and in Chromium
// with each issuing strategy (Strategies).
func TestInClusterDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	dir := t.TempDir()
	d := startDemo(t, ctx, demo.Options{Dir: dir, InCluster: true, Audit: true})

	for _, c := range []struct {
		kubeconfig, ns string
	}{{d.Mgmt.AdminKubeconfig, demo.SupervisorNamespace}, {d.Workload.AdminKubeconfig, demo.ConciergeNamespace}} {
		client := kubernetes.NewForConfigOrDie(adminConfig(t, c.kubeconfig))
		ns, err := client.CoreV1().Namespaces().Get(ctx, c.ns, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := ns.Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
			t.Errorf("namespace %s enforces PodSecurity %q, want restricted", c.ns, got)
		}
		pods, err := client.CoreV1().Pods(c.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + c.ns})
		if err != nil {
			t.Fatal(err)
		}
		ready := 0
		for _, p := range pods.Items {
			for _, cs := range p.Status.ContainerStatuses {
				if cs.Ready && strings.HasSuffix(cs.Image, "/"+demo.Image) {
					ready++
				}
			}
			if p.Spec.NodeName == "" || p.Status.Phase != corev1.PodRunning {
				t.Errorf("pod %s/%s is %s on node %q", c.ns, p.Name, p.Status.Phase, p.Spec.NodeName)
			}
		}
		if ready != 2 {
			t.Errorf("%s: %d Ready containers of image %s, want 2 (one per replica)", c.ns, ready, demo.Image)
		}
	}

	// A login through the impersonation proxy: the CLI exchanges the token at the
	// proxy's load balancer address instead of the API server's.
	kubeconfig := filepath.Join(dir, "kubeconfig-proxy")
	if _, err := d.Selkie(ctx, nil, "get", "kubeconfig", "--kubeconfig", d.Workload.AdminKubeconfig,
		"--concierge-mode", "ImpersonationProxy", "--oidc-session-cache", kubeconfig+"-sessions.yaml",
		"--credential-cache", kubeconfig+"-credentials.yaml", "--upstream-identity-provider-name", "dex",
		"--upstream-identity-provider-flow", "cli_password", "-o", kubeconfig, "--timeout", "2m"); err != nil {
		t.Fatal(err)
	}
	// Each concierge replica serves the proxy once it has synced its load balancer's
	// address and certificate (within seconds of the leader reporting it): wait until
	// ten handshakes in a row succeed, whichever replica answers.
	server, err := d.Kubectl(ctx, kubeconfig, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}")
	if err != nil {
		t.Fatal(err)
	}
	proxyURL, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	proxyAddr := proxyURL.Host
	if proxyURL.Port() == "" {
		proxyAddr = net.JoinHostPort(proxyURL.Hostname(), "443")
	}
	eventually(t, time.Minute, "ten TLS handshakes in a row with the impersonation proxy", func() (bool, error) {
		for range 10 {
			conn, err := tls.Dial("tcp", proxyAddr, &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				return false, err
			}
			_ = conn.Close()
		}
		return true, nil
	})
	pinny, _ := d.Env.User("pinny")
	got, err := d.Run(ctx, []string{"PINNIPED_USERNAME=" + pinny.Email, "PINNIPED_PASSWORD=" + pinny.Password},
		d.Env.Kubectl, "--kubeconfig", kubeconfig, "get", "ns", demo.ConciergeNamespace, "-o", "name")
	if err != nil {
		t.Fatalf("kubectl through the impersonation proxy: %v", err)
	}
	if strings.TrimSpace(got) != "namespace/"+demo.ConciergeNamespace {
		t.Errorf("kubectl through the impersonation proxy printed %q", got)
	}
	pool := netip.MustParsePrefix(d.Env.Info.Clusters[1].LoadBalancerPool)
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err != nil || !pool.Contains(ip) {
		t.Errorf("the proxy kubeconfig's server is %s, want an address of the workload cluster's load-balancer pool %s", server, pool)
	}

	t.Run("ProxyStreams", func(t *testing.T) {
		proxyStreams(t, ctx, d, proxyUser{kubectl: d.Env.Kubectl, kubeconfig: kubeconfig,
			env: []string{"PINNIPED_USERNAME=" + pinny.Email, "PINNIPED_PASSWORD=" + pinny.Password}})
	})
	t.Run("LeaderElection", func(t *testing.T) { leaderElection(t, ctx, d) })
	// Before Disruption, which ends the image's first tag.
	t.Run("Faults", func(t *testing.T) { faults(t, ctx, d, kubeconfig) })
	// Last: it rolls both Deployments to another image tag.
	t.Run("Disruption", func(t *testing.T) { disruption(t, ctx, d) })
	// After Disruption: it switches the concierge to the CSR strategy, whose logins cost
	// more API calls.
	t.Run("Strategies", func(t *testing.T) { strategyLogins(t, ctx, d) })
}
