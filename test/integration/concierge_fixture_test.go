// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/selkie-dev/selkie/test/env"
)

// conciergeNamespace is where the test concierge keeps its Secrets in the workload cluster.
const conciergeNamespace = "selkie-concierge"

// concierge is a selkie-concierge process serving the workload cluster's aggregated API
// through APIServices that point at its loopback port.
type concierge struct {
	cluster int      // index in testEnv.Clusters
	args    []string // the strategy arguments it was started with
	logFile string   // the process's JSON log (audit lines)
	port    int
	proc    *env.Process
	// profiling is where it serves Go profiles, when benchmarks asked (profilingArgs).
	profiling string
}

var concierges struct {
	sync.Mutex
	byCluster map[int]*concierge
	errs      map[int]error
}

// sharedConcierge starts the concierge on the workload cluster once per run, with the
// cluster's own client-signing key (the KubeClusterSigningCertificate strategy).
func sharedConcierge(t testing.TB) *concierge {
	t.Helper()
	cl := testEnv.Clusters[1]
	return conciergeOn(t, 1, "--cluster-signing-cert-file", cl.ClusterCACert, "--cluster-signing-key-file", cl.ClusterCAKey)
}

// csrConcierge starts a concierge on the management cluster that holds no key at all and
// issues through the CSR API (the KubeCSRSigningCertificate strategy).
func csrConcierge(t testing.TB) *concierge {
	t.Helper()
	return conciergeOn(t, 0, "--csr-signing")
}

func conciergeOn(t testing.TB, cluster int, strategyArgs ...string) *concierge {
	t.Helper()
	installCRDsOn(t, cluster)
	concierges.Lock()
	defer concierges.Unlock()
	if concierges.byCluster == nil {
		concierges.byCluster, concierges.errs = map[int]*concierge{}, map[int]error{}
	}
	c, ok := concierges.byCluster[cluster]
	if !ok {
		c, concierges.errs[cluster] = startConcierge(cluster, strategyArgs...)
		concierges.byCluster[cluster] = c
	}
	if err := concierges.errs[cluster]; err != nil {
		t.Fatal(err)
	}
	// One concierge serves a cluster's APIServices, so a second one with other
	// strategies cannot run beside it: say so rather than hand back the wrong one.
	if !slices.Equal(c.args, strategyArgs) {
		t.Fatalf("the concierge on cluster %d runs with strategy arguments %q; this test asked for %q", cluster, c.args, strategyArgs)
	}
	return c
}

func startConcierge(cluster int, strategyArgs ...string) (*concierge, error) {
	bin := selkieBins.concierge
	c := &concierge{cluster: cluster, args: slices.Clone(strategyArgs), logFile: filepath.Join(testWork, fmt.Sprintf("concierge-%d.log", cluster))}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	// A known key, so auditReason can find a token's audit line by its fingerprint.
	keyFile := filepath.Join(testWork, fmt.Sprintf("concierge-%d.fingerprint-key", cluster))
	if err := os.WriteFile(keyFile, []byte(auditFingerprintKey), 0o600); err != nil {
		return nil, err
	}
	cl := testEnv.Clusters[cluster]
	// The namespace and RBAC first; the APIServices only once the process answers, as a
	// Service gets endpoints only when its pods are ready: an APIService pointing at a
	// port nobody answers on makes the aggregator back off and flap for a while.
	install := strings.SplitN(conciergeInstallYAML(c.port), "---\napiVersion: apiregistration.k8s.io/v1", 2)
	if err := applyYAML(cl.Kubeconfig, install[0]); err != nil {
		return nil, fmt.Errorf("install concierge objects: %w", err)
	}
	profiling, profilingAddr := profilingArgs()
	c.profiling = profilingAddr
	proc, err := startProcess(bin, c.logFile, append(append([]string{"serve", "--kubeconfig", cl.Kubeconfig,
		"--namespace", conciergeNamespace, "--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(c.port), "--log-level", "debug",
		"--impersonation-proxy=false", "--log-fingerprint-key-file", keyFile},
		strategyArgs...), profiling...)...)
	if err != nil {
		return nil, err
	}
	c.proc = proc
	cleanups = append(cleanups, proc.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := waitHealthy(ctx, c.port); err != nil {
		log, _ := os.ReadFile(c.logFile)
		return nil, fmt.Errorf("concierge did not answer /healthz: %w\n%s", err, log)
	}
	if err := applyYAML(cl.Kubeconfig, "apiVersion: apiregistration.k8s.io/v1"+install[1]); err != nil {
		return nil, fmt.Errorf("install APIServices: %w", err)
	}
	for _, name := range []string{"v1alpha1.login.concierge.selkie.dev", "v1alpha1.identity.concierge.selkie.dev"} {
		cmd := exec.CommandContext(ctx, testEnv.Kubectl, "--kubeconfig", cl.Kubeconfig, "wait", "--for=condition=Available",
			"--timeout=60s", "apiservice/"+name)
		if out, err := cmd.CombinedOutput(); err != nil {
			log, _ := os.ReadFile(c.logFile)
			return nil, fmt.Errorf("APIService %s not Available: %v\n%s\nconcierge log:\n%s", name, err, out, log)
		}
	}
	return c, nil
}

// conciergeInstallYAML is what a concierge running outside the cluster on 127.0.0.1:port
// needs from the shipped install: its namespace, the login RBAC, its API Service and,
// last, its APIServices. Callers apply the APIServices once the process answers.
func conciergeInstallYAML(port int) string {
	return outOfClusterYAML("concierge", conciergeNamespace, port, func(kind, name string) bool {
		return kind == "Namespace" || ((kind == "ClusterRole" || kind == "ClusterRoleBinding") && name == "selkie-concierge-login")
	})
}

// outOfClusterYAML takes from deploy/manifests/<component>.yaml, as shipped, the objects
// that keep selects plus the component's API Service and APIServices, for a server that
// runs outside the cluster on 127.0.0.1:port: the Service moves to namespace ns and
// becomes an ExternalName for localhost (no pod backs it), and the APIServices point at
// it and port. The APIServices come last, each document starting with its apiVersion.
func outOfClusterYAML(component, ns string, port int, keep func(kind, name string) bool) string {
	data, err := os.ReadFile(testEnvRepoFileNoT("deploy/manifests/" + component + ".yaml"))
	if err != nil {
		panic(fmt.Sprintf("read the shipped %s manifest: %v", component, err))
	}
	apiServiceName := "selkie-" + component + "-api"
	var head, apiServices []string
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil || obj == nil {
			continue
		}
		meta, _ := obj["metadata"].(map[string]any)
		kind, _ := obj["kind"].(string)
		name, _ := meta["name"].(string)
		switch {
		case kind == "Service" && name == apiServiceName:
			meta["namespace"] = ns
			obj["spec"] = map[string]any{"type": "ExternalName", "externalName": "localhost"}
		case kind == "APIService":
			spec, _ := obj["spec"].(map[string]any)
			spec["service"] = map[string]any{"namespace": ns, "name": apiServiceName, "port": port}
		case keep(kind, name):
		default:
			continue
		}
		out, err := yaml.Marshal(obj)
		if err != nil {
			panic(err)
		}
		if kind == "APIService" {
			apiServices = append(apiServices, string(out))
		} else {
			head = append(head, string(out))
		}
	}
	return strings.Join(append(head, apiServices...), "---\n")
}

func applyYAML(kubeconfig, manifest string) error {
	path := filepath.Join(testWork, fmt.Sprintf("apply-%d.yaml", time.Now().UnixNano()))
	if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
		return err
	}
	out, err := exec.Command(testEnv.Kubectl, "--kubeconfig", kubeconfig, "apply", "-f", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("kubectl apply: %v\n%s", err, out)
	}
	return nil
}

// waitHealthy polls the process's /healthz (always allowed anonymously) until it answers.
func waitHealthy(ctx context.Context, port int) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	for {
		resp, err := client.Get("https://127.0.0.1:" + strconv.Itoa(port) + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startProcess runs bin with args through env.StartProcess, logging to logFile (a path
// ending in ".log"): Stop ends it by PID (SIGTERM, then SIGKILL), and it dies with the
// test binary.
func startProcess(bin, logFile string, args ...string) (*env.Process, error) {
	return env.StartProcess(filepath.Dir(logFile), strings.TrimSuffix(filepath.Base(logFile), ".log"), bin, args...)
}
