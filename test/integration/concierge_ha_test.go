// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	conciergeclient "github.com/selkie-dev/selkie/generated/client/concierge/clientset/versioned"
	"github.com/selkie-dev/selkie/test/env"
)

// TestConciergeReplicasElectOneLeader runs two replicas of a concierge install in their
// own namespace: exactly one holds the Lease and writes the CredentialIssuer, and when it
// stops the other takes over.
func TestConciergeReplicasElectOneLeader(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	// A control plane of its own: authenticators are cluster-scoped, and a second
	// concierge install on a shared cluster would race the shared one's status writes.
	bins, err := env.FindBinaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := env.StartControlPlane(ctx, bins, t.TempDir(), "ha")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Close)
	cluster := env.ClusterInfo{Name: cp.Name, APIURL: cp.APIURL, Kubeconfig: cp.AdminKubeconfig,
		ClusterCACert: cp.ClusterCA.CertFile, ClusterCAKey: cp.ClusterCA.KeyFile}
	if err := applyCRDs(t, cluster.Kubeconfig); err != nil {
		t.Fatal(err)
	}
	kube := kubernetes.NewForConfigOrDie(adminConfig(t, cluster.Kubeconfig))
	ns, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "selkie-ha-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kube.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}) })
	issuerName := ns.Name + "-config"
	cis := conciergeclient.NewForConfigOrDie(adminConfig(t, cluster.Kubeconfig)).ConfigV1alpha1().CredentialIssuers()
	t.Cleanup(func() { _ = cis.Delete(ctx, issuerName, metav1.DeleteOptions{}) })

	type replica struct {
		log  string
		stop func()
		pid  int
	}
	var replicas []replica
	for i := range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		logFile := filepath.Join(t.TempDir(), fmt.Sprintf("replica-%d.log", i))
		proc, err := startProcess(selkieBins.concierge, logFile, "serve",
			"--kubeconfig", cluster.Kubeconfig, "--namespace", ns.Name, "--service-name", "selkie-ha",
			"--credential-issuer", issuerName, "--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(port), "--impersonation-proxy=false",
			"--cluster-signing-cert-file", cluster.ClusterCACert, "--cluster-signing-key-file", cluster.ClusterCAKey)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(proc.Stop)
		replicas = append(replicas, replica{log: logFile, stop: proc.Stop, pid: proc.PID()})
	}
	// The leader is the replica whose log says it acquired the lease under the identity
	// the Lease names now (a replica that loses the lease campaigns again, so "it once
	// acquired the lease" is not enough).
	holder := func() string {
		l, err := kube.CoordinationV1().Leases(ns.Name).Get(ctx, "selkie-concierge", metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil {
			return ""
		}
		return *l.Spec.HolderIdentity
	}
	leaderOf := func(id string) int {
		for i, r := range replicas {
			data, _ := os.ReadFile(r.log)
			for _, line := range strings.Split(string(data), "\n") {
				if id != "" && strings.Contains(line, "successfully acquired lease") && strings.Contains(line, id) {
					return i
				}
			}
		}
		return -1
	}
	leader := -1
	var first string
	eventually(t, 60*time.Second, "one replica leads", func() (bool, error) {
		first = holder()
		leader = leaderOf(first)
		return leader >= 0, fmt.Errorf("lease holder %q", first)
	})
	eventually(t, 30*time.Second, "the leader writes the CredentialIssuer", func() (bool, error) {
		ci, err := cis.Get(ctx, issuerName, metav1.GetOptions{})
		return err == nil && len(ci.Status.Strategies) == 1, err
	})
	if first = holder(); leaderOf(first) >= 0 {
		leader = leaderOf(first)
	}

	t.Cleanup(func() {
		if t.Failed() {
			for i, r := range replicas {
				data, _ := os.ReadFile(r.log)
				var lease []string
				for _, line := range strings.Split(string(data), "\n") {
					if strings.Contains(strings.ToLower(line), "lease") || strings.Contains(line, "leader") {
						lease = append(lease, line)
					}
				}
				t.Logf("replica %d (pid %d, stopped first: %v) lease lines:\n%s", i, r.pid, i == leader, strings.Join(lease, "\n"))
			}
		}
	})
	replicas[leader].stop()
	// The stopped leader releases the lease on its way out; if it is killed instead, the
	// lease expires after 15 s. A loaded 2-core machine needs the margin.
	eventually(t, 60*time.Second, "the other replica takes over", func() (bool, error) {
		now := holder()
		return now != first && leaderOf(now) == 1-leader, fmt.Errorf("holder %q (first leader %q)", now, first)
	})
}
