// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"context"
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/selkie-dev/selkie/test/env"
)

// TestControlPlaneStopsByPID starts one more control plane in this process (beside the
// environment's), uses it, closes it, and checks every process is gone and its API port
// no longer answers.
func TestControlPlaneStopsByPID(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bins, err := env.FindBinaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := env.StartControlPlane(ctx, bins, t.TempDir(), "extra")
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			cp.Close()
		}
	})
	t.Logf("extra control plane ready: %v", cp.ReadyAfter)
	cfg, err := cp.RESTConfig()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("use the extra control plane: %v", err)
	}

	procs := cp.Processes()
	if len(procs) != 3 {
		t.Fatalf("control plane has %d processes, want etcd, kube-apiserver, kube-controller-manager", len(procs))
	}
	cp.Close()
	closed = true
	for _, p := range procs {
		if !p.Exited() {
			t.Errorf("%s (pid %d) still running after Close", p.Name, p.PID())
		}
		if err := syscall.Kill(p.PID(), 0); err == nil {
			t.Errorf("pid %d (%s) still exists after Close", p.PID(), p.Name)
		}
	}
	u, err := url.Parse(cp.APIURL)
	if err != nil {
		t.Fatal(err)
	}
	if conn, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after Close", u.Host)
	}
}
