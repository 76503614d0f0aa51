// SPDX-License-Identifier: Apache-2.0

package env

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestChildrenDieWithTheirParent re-runs this test binary as a parent that starts a
// long sleep through startProcess, then kills that parent with SIGKILL (as `go test
// -timeout` or a crash would) and checks the sleep is gone too. The parent logs into a
// directory of the outer test, because a killed parent never removes its own t.TempDir.
func TestChildrenDieWithTheirParent(t *testing.T) {
	if dir := os.Getenv("ENV_TEST_PARENT_DIR"); dir != "" {
		p, err := StartProcess(dir, "sleep", "/bin/sleep", "300")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = os.Stdout.WriteString(strconv.Itoa(p.PID()) + "\n")
		time.Sleep(time.Minute) // killed by the outer test long before this
		return
	}
	t.Parallel()
	parent := exec.Command(os.Args[0], "-test.run=^TestChildrenDieWithTheirParent$")
	parent.Env = append(os.Environ(), "ENV_TEST_PARENT_DIR="+t.TempDir())
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = parent.Process.Kill()
		t.Fatalf("parent printed no child PID: %v", err)
	}
	child, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("child PID %q: %v", line, err)
	}
	if err := syscall.Kill(child, 0); err != nil {
		t.Fatalf("child %d not running before the parent died: %v", child, err)
	}
	_ = parent.Process.Kill()
	_ = parent.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(child, 0) == nil {
		if time.Now().After(deadline) {
			_ = syscall.Kill(child, syscall.SIGKILL)
			t.Fatalf("child %d outlived its killed parent", child)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestStopEndsProcessByPID(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A process that honours SIGTERM ends at once, well inside the grace period.
	p, err := StartProcess(dir, "sleep", "/bin/sleep", "300")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.Stop()
	if !p.Exited() || time.Since(start) > 5*time.Second {
		t.Errorf("Stop took %s; exited=%v", time.Since(start), p.Exited())
	}
	p.Stop() // a second Stop is a no-op
}

// TestFailedPeerIsNamed checks a peer that dies at start is reported with its name, the
// reason and the end of its log, as a *PeerError.
func TestFailedPeerIsNamed(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kubectl"} {
		script := "#!/bin/sh\necho \"" + name + ": cannot listen: address already in use\" >&2\nexit 3\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_, err := StartControlPlane(context.Background(), Binaries{ControlPlane: bin}, t.TempDir(), "broken")
	var pe *PeerError
	if !errors.As(err, &pe) || pe.Peer != "control plane broken" {
		t.Fatalf("error = %v, want a *PeerError for control plane broken", err)
	}
	for _, want := range []string{"etcd", "exited before it was ready", "exit status 3", "etcd: cannot listen: address already in use"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestFreePortsAreDistinct(t *testing.T) {
	t.Parallel()
	ports, err := freePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] || p <= 0 {
			t.Fatalf("ports %v: %d repeated or invalid", ports, p)
		}
		seen[p] = true
	}
}
