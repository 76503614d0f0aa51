// SPDX-License-Identifier: Apache-2.0

package env

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Close stops the node and removes what it left on the host: kubelet first (else it
// would restart the pods), then every pod through the CRI, kube-proxy and containerd;
// then any process still in the node's network namespace or cgroup root (container
// shims outlive containerd by design), the mounts under Dir (overlay root file systems,
// volume tmpfs, pod network namespaces) and the cgroups. Safe on a partly started node.
func (n *Node) Close() {
	if n == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for i := len(n.procs) - 1; i >= 1; i-- {
		n.procs[i].Stop()
	}
	if len(n.procs) > 0 && !n.procs[0].Exited() {
		if out, err := n.Crictl(ctx, "rmp", "--force", "--all"); err != nil {
			// The leftovers are killed and unmounted below anyway; say why they exist.
			_ = os.WriteFile(filepath.Join(n.Dir, "close.log"), fmt.Appendf(nil, "crictl rmp: %v\n%s", err, out), 0o600)
		}
		n.procs[0].Stop()
	}
	n.procs = nil
	killLeftovers(n.Netns, n.cgroupRoot)
	unmountUnder(n.Dir)
	removeCgroupRoot(n.cgroupRoot)
}

// cgroupMounts returns the host's cgroup hierarchies: one per v1 controller set, or the
// single v2 hierarchy.
func cgroupMounts() []string {
	var mounts []string
	for _, m := range readMountInfo() {
		if m.fstype == "cgroup" || m.fstype == "cgroup2" {
			mounts = append(mounts, m.point)
		}
	}
	return mounts
}

// createCgroupRoot makes the node's cgroup root in every hierarchy; kubelet refuses a
// cgroupRoot that does not exist. A v1 cpuset cgroup starts with no CPUs or memory
// nodes, so it gets its parent's.
func createCgroupRoot(root string) error {
	for _, m := range cgroupMounts() {
		dir := filepath.Join(m, root)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if data, err := os.ReadFile(filepath.Join(m, f)); err == nil {
				if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// removeCgroupRoot removes the node's cgroups, deepest first (a cgroup directory is
// removed with rmdir once it holds no process and no child).
func removeCgroupRoot(root string) {
	for _, m := range cgroupMounts() {
		var dirs []string
		_ = filepath.WalkDir(filepath.Join(m, root), func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			_ = syscall.Rmdir(dirs[i])
		}
	}
}

// killLeftovers sends SIGKILL to every process in the network namespace at netns or in
// the cgroup subtree root, and waits (briefly) until they are gone. These are the
// node's own descendants: shims, and the containers they ran.
func killLeftovers(netns, root string) {
	for range 20 {
		pids := nodePIDs(netns, root)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func nodePIDs(netns, root string) []int {
	seen := map[int]bool{}
	var st syscall.Stat_t
	if netns != "" && syscall.Stat(netns, &st) == nil {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			var pst syscall.Stat_t
			if syscall.Stat(filepath.Join("/proc", e.Name(), "ns", "net"), &pst) == nil && pst.Ino == st.Ino && pst.Dev == st.Dev {
				seen[pid] = true
			}
		}
	}
	for _, m := range cgroupMounts() {
		_ = filepath.WalkDir(filepath.Join(m, root), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
				return nil
			}
			data, _ := os.ReadFile(path)
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil {
					seen[pid] = true
				}
			}
			return nil
		})
	}
	pids := make([]int, 0, len(seen))
	for pid := range seen {
		pids = append(pids, pid)
	}
	return pids
}

// unmountUnder lazily unmounts every mount point at or below dir, deepest first.
func unmountUnder(dir string) {
	if dir == "" {
		return
	}
	dir = filepath.Clean(dir)
	for range 3 { // a mount can hide another at the same point
		var points []string
		for _, m := range readMountInfo() {
			if m.point == dir || strings.HasPrefix(m.point, dir+"/") {
				points = append(points, m.point)
			}
		}
		if len(points) == 0 {
			return
		}
		sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
		for _, p := range points {
			_ = syscall.Unmount(p, syscall.MNT_DETACH)
		}
	}
}

type mountInfo struct{ point, fstype string }

// readMountInfo parses /proc/self/mountinfo: field 5 is the mount point (octal escapes
// for spaces), and the file system type follows the " - " separator.
func readMountInfo() []mountInfo {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []mountInfo
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, postFields := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(postFields) < 1 {
			continue
		}
		point := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(fields[4])
		out = append(out, mountInfo{point: point, fstype: postFields[0]})
	}
	return out
}
