// SPDX-License-Identifier: Apache-2.0

package env

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Binaries are the directories holding the environment's third-party binaries.
type Binaries struct {
	// ControlPlane holds etcd, kube-apiserver, kube-controller-manager and kubectl.
	ControlPlane string
	// Dex holds dex.
	Dex string
	// Node holds containerd, containerd-shim-runc-v2, ctr, runc and crictl (the
	// control plane's directory holds kubelet, kube-proxy and kube-scheduler).
	Node string
}

// FindBinaries returns the binaries named by SELKIE_CONTROLPLANE_BIN, SELKIE_DEX_BIN and
// SELKIE_NODE_BIN, or else runs hack/peer-bins.sh, which builds them into the user's
// cache when missing (minutes when cold, nothing when cached). Build output goes to
// os.Stderr.
func FindBinaries(ctx context.Context) (Binaries, error) {
	b := Binaries{ControlPlane: os.Getenv("SELKIE_CONTROLPLANE_BIN"), Dex: os.Getenv("SELKIE_DEX_BIN"), Node: os.Getenv("SELKIE_NODE_BIN")}
	if b.ControlPlane == "" || b.Dex == "" || b.Node == "" {
		root, err := RepoRoot()
		if err != nil {
			return b, err
		}
		cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "peer-bins.sh"), "controlplane", "dex", "node")
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return b, fmt.Errorf("hack/peer-bins.sh could not build the control plane, Dex and the node runtime: %w", err)
		}
		vars := parseKeyValues(out)
		b.ControlPlane, b.Dex, b.Node = vars["SELKIE_CONTROLPLANE_BIN"], vars["SELKIE_DEX_BIN"], vars["SELKIE_NODE_BIN"]
	}
	var want []string
	for _, bin := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kubelet", "kube-proxy"} {
		want = append(want, filepath.Join(b.ControlPlane, bin))
	}
	for _, bin := range []string{"containerd", "containerd-shim-runc-v2", "ctr", "runc", "crictl"} {
		want = append(want, filepath.Join(b.Node, bin))
	}
	for _, want := range append(want, filepath.Join(b.Dex, "dex")) {
		if fi, err := os.Stat(want); err != nil || fi.Mode()&0o111 == 0 {
			return b, fmt.Errorf("binary %s is missing or not executable: run hack/peer-bins.sh", want)
		}
	}
	return b, nil
}

// RepoRoot finds the repository root by walking up from the working directory to the
// directory holding hack/peer-bins.sh.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "hack", "peer-bins.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("not inside the selkie repository (no hack/peer-bins.sh above the working directory)")
		}
		dir = parent
	}
}

// parseKeyValues reads KEY=value lines, ignoring blank lines, comments and `export `.
func parseKeyValues(data []byte) map[string]string {
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if ok {
			vars[k] = strings.Trim(v, `'"`)
		}
	}
	return vars
}
