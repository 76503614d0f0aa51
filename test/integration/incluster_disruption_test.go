// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/selkie-dev/selkie/test/env/demo"
)

// callLoop runs `kubectl auth whoami` as a logged-in user again and again until stop is
// closed, and records each call's duration and error.
type callLoop struct {
	mu        sync.Mutex
	durations []time.Duration
	failures  []string
	events    []string // the calls and the disruptions, in order
}

// note records a disruption step among the calls.
func (l *callLoop) note(what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, time.Now().Format("15:04:05.000")+" "+what)
}

func (l *callLoop) run(ctx context.Context, kubectl, kubeconfig string, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		l.once(ctx, kubectl, kubeconfig)
	}
}

// once runs one call and records it.
func (l *callLoop) once(ctx context.Context, kubectl, kubeconfig string) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	start := time.Now()
	// No password in the environment and no terminal: a call that needed a new login
	// fails instead of prompting.
	cmd := exec.CommandContext(cctx, kubectl, "--kubeconfig", kubeconfig, "auth", "whoami")
	cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PINNIPED") }),
		"PINNIPED_DEBUG=true") // the CLI says why it would log in again
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.durations = append(l.durations, d)
	if err != nil {
		l.failures = append(l.failures, fmt.Sprintf("%s after %s: %v: %s", start.Format("15:04:05.000"), d.Round(time.Millisecond), err, out))
	}
	l.events = append(l.events, fmt.Sprintf("%s kubectl %s (%s)", start.Format("15:04:05.000"), map[bool]string{true: "ok", false: "FAILED"}[err == nil], d.Round(time.Millisecond)))
}

func (l *callLoop) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := slices.Clone(l.durations)
	slices.Sort(s)
	if len(s) == 0 {
		return "no calls"
	}
	q := func(p float64) time.Duration { return s[int(p*float64(len(s)-1))].Round(time.Millisecond) }
	return fmt.Sprintf("%d calls, %d failed; latency p50 %s, p95 %s, max %s", len(s), len(l.failures), q(0.5), q(0.95), q(1))
}

// disruption: while a logged-in user runs kubectl in a loop, with no credential cache (so
// every call asks the concierge for a certificate, and the CLI refreshes and exchanges
// tokens at the supervisor as they expire), one supervisor pod and one concierge pod
// are deleted, then both Deployments roll to a second image tag. No call may fail and
// none may need a new login.
func disruption(t *testing.T, ctx context.Context, d *demo.Demo) {
	// A session of its own, for a user no other step logs in as: Dex keeps one refresh
	// token per user, connector and client, so another login of the same user through Dex would
	// end this session's upstream refresh (docs/troubleshooting.md).
	dir := t.TempDir()
	kubeconfig, sessions := filepath.Join(dir, "kubeconfig-no-credential-cache"), filepath.Join(dir, "sessions.yaml")
	if _, err := d.Selkie(ctx, nil, "get", "kubeconfig", "--kubeconfig", d.Workload.AdminKubeconfig,
		"--concierge-mode", "TokenCredentialRequestAPI", "--oidc-session-cache", sessions,
		"--credential-cache", "", "--upstream-identity-provider-name", "dex",
		"--upstream-identity-provider-flow", "cli_password", "-o", kubeconfig, "--timeout", "2m"); err != nil {
		t.Fatal(err)
	}
	wally, _ := d.Env.User("wally")
	if _, err := d.Run(ctx, []string{"PINNIPED_USERNAME=" + wally.Email, "PINNIPED_PASSWORD=" + wally.Password},
		d.Env.Kubectl, "--kubeconfig", kubeconfig, "auth", "whoami"); err != nil {
		t.Fatalf("log in as wally: %v", err)
	}
	// The floor: the same call as the cluster admin, with a client certificate and no
	// exec plugin, on the undisturbed cluster.
	var floor callLoop
	for range 20 {
		floor.once(ctx, d.Env.Kubectl, d.Workload.AdminKubeconfig)
	}
	t.Logf("floor, kubectl auth whoami as the cluster admin (no Selkie): %s", floor.summary())
	if len(floor.failures) > 0 {
		t.Fatalf("the cluster admin's calls failed: %v", floor.failures)
	}

	mgmt := kubernetes.NewForConfigOrDie(adminConfig(t, d.Mgmt.AdminKubeconfig))
	workload := kubernetes.NewForConfigOrDie(adminConfig(t, d.Workload.AdminKubeconfig))
	var loop callLoop
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); loop.run(ctx, d.Env.Kubectl, kubeconfig, stop) }()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-done
	}()

	logs := followPodLogs(t, ctx, d.Env.Kubectl, d.Mgmt.AdminKubeconfig, demo.SupervisorNamespace)
	refreshedBefore := refreshTokenFingerprint(t, sessions)

	time.Sleep(3 * time.Second)
	loop.note("delete a supervisor pod")
	deleteOnePod(t, ctx, mgmt, demo.SupervisorNamespace)
	loop.note("delete a concierge pod")
	deleteOnePod(t, ctx, workload, demo.ConciergeNamespace)
	for _, c := range []struct {
		kubeconfig, ns string
	}{{d.Mgmt.AdminKubeconfig, demo.SupervisorNamespace}, {d.Workload.AdminKubeconfig, demo.ConciergeNamespace}} {
		loop.note("roll " + c.ns + " to " + demo.Image2)
		mustKubectlWith(t, c.kubeconfig, "-n", c.ns, "set", "image", "deployment/"+c.ns, c.ns+"="+demo.Image2)
		mustKubectlWith(t, c.kubeconfig, "-n", c.ns, "rollout", "status", "deployment/"+c.ns, "--timeout=3m")
	}
	// The CLI refreshes its session when the supervisor's access token nears its end
	// (minutes): keep restarting the supervisor's pods until it has, so that a refresh
	// meets a rollout.
	deadline := time.Now().Add(4 * time.Minute)
	for refreshTokenFingerprint(t, sessions) == refreshedBefore && time.Now().Before(deadline) {
		loop.note("restart the supervisor's pods (waiting for a refresh)")
		mustKubectlWith(t, d.Mgmt.AdminKubeconfig, "-n", demo.SupervisorNamespace, "rollout", "restart", "deployment/"+demo.SupervisorNamespace)
		mustKubectlWith(t, d.Mgmt.AdminKubeconfig, "-n", demo.SupervisorNamespace, "rollout", "status", "deployment/"+demo.SupervisorNamespace, "--timeout=3m")
	}
	time.Sleep(3 * time.Second)
	close(stop)
	<-done
	var steps []string
	for _, e := range loop.events {
		if !strings.Contains(e, " kubectl ") {
			steps = append(steps, e)
		}
	}
	t.Logf("kubectl loop during %d disruptions (the session refreshed among them): %s\n%s", len(steps), loop.summary(), strings.Join(steps, "\n"))
	if refreshTokenFingerprint(t, sessions) == refreshedBefore {
		t.Errorf("the session was never refreshed during the loop")
	}
	if len(loop.failures) > 0 {
		t.Errorf("%d calls failed; the first:\n%s\ncalls and disruptions:\n%s\nthe supervisor pods' refresh lines:\n%s",
			len(loop.failures), loop.failures[0], strings.Join(loop.events, "\n"), logs.grep("refresh"))
	}
	if len(loop.durations) < 20 {
		t.Errorf("only %d calls ran", len(loop.durations))
	}
}

// deleteOnePod deletes the first pod of the component's Deployment and waits until two
// replicas are available again, none of them the deleted one.
func deleteOnePod(t *testing.T, ctx context.Context, client kubernetes.Interface, ns string) {
	t.Helper()
	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + ns})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("pods of %s: %v", ns, err)
	}
	victim := pods.Items[0].Name
	if err := client.CoreV1().Pods(ns).Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Minute, "deployment "+ns+" available again without pod "+victim, func() (bool, error) {
		dep, err := client.AppsV1().Deployments(ns).Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if _, err := client.CoreV1().Pods(ns).Get(ctx, victim, metav1.GetOptions{}); err == nil {
			return false, fmt.Errorf("pod %s still exists", victim)
		}
		return dep.Status.AvailableReplicas == 2 && dep.Status.UpdatedReplicas == 2, fmt.Errorf("%d available", dep.Status.AvailableReplicas)
	})
}

func mustKubectlWith(t *testing.T, kubeconfig string, args ...string) string {
	t.Helper()
	out, errOut, err := kubectlWith(t, kubeconfig, args...)
	if err != nil {
		t.Fatalf("kubectl %v: %v\n%s", args, err, errOut)
	}
	return out
}

// refreshTokenFingerprint is the sha256 of the refresh tokens in a session cache file
// (the CLI's cache format): it changes when the CLI refreshes its session, the
// supervisor rotating the refresh token.
func refreshTokenFingerprint(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Sessions []struct {
			Tokens struct {
				Refresh *struct {
					Token string `json:"token"`
				} `json:"refresh"`
			} `json:"tokens"`
		} `json:"sessions"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	h := sha256.New()
	for _, s := range file.Sessions {
		if s.Tokens.Refresh != nil {
			h.Write([]byte(s.Tokens.Refresh.Token + "\n"))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// podLogs follows the logs of every pod of a namespace, including pods that appear later,
// into files, until the test ends.
type podLogs struct {
	dir string
}

func followPodLogs(t *testing.T, ctx context.Context, kubectl, kubeconfig, ns string) *podLogs {
	t.Helper()
	l := &podLogs{dir: t.TempDir()}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	client := kubernetes.NewForConfigOrDie(adminConfig(t, kubeconfig))
	wg.Add(1)
	go func() {
		defer wg.Done()
		seen := map[string]bool{}
		for ctx.Err() == nil {
			pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err == nil {
				for _, p := range pods.Items {
					if seen[p.Name] || p.Status.Phase != corev1.PodRunning {
						continue
					}
					seen[p.Name] = true
					f, err := os.Create(filepath.Join(l.dir, p.Name+".log"))
					if err != nil {
						continue
					}
					cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "-n", ns, "logs", "-f", p.Name)
					cmd.Stdout, cmd.Stderr = f, f
					if err := cmd.Start(); err != nil {
						f.Close()
						continue
					}
					wg.Add(1)
					go func() { defer wg.Done(); _ = cmd.Wait(); f.Close() }()
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	return l
}

// grep returns the followed lines that contain s, each prefixed with its pod.
func (l *podLogs) grep(s string) string {
	files, _ := filepath.Glob(filepath.Join(l.dir, "*.log"))
	var out []string
	for _, f := range files {
		data, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(data), "\n") {
			if strings.Contains(line, s) {
				out = append(out, strings.TrimSuffix(filepath.Base(f), ".log")+": "+line)
			}
		}
	}
	return strings.Join(out, "\n")
}
