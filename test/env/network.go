// SPDX-License-Identifier: Apache-2.0

package env

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// slotDir records which process owns which slot, so a slot left behind by a run that
// was killed (its bridge and namespaces outlive it) can be told from one in use.
const slotDir = "/run/selkie-env"

// Network is one environment's share of the host's networking: a bridge holding the
// host's address on the node network, a network namespace per node linked to the bridge
// by a veth pair, and the routes between them. Nothing in it routes off the machine: the
// host does not forward (its net.ipv4.ip_forward is left alone), no address is
// masqueraded to the host's own, and nodes reach each other on the bridge directly.
type Network struct {
	Plan NetPlan

	clusters, nodes int
	namespaces      []string
	// madeDirs are host directories the nodes' runtime creates at fixed paths that did
	// not exist before: Close removes them once they are empty.
	madeDirs []string
}

// runtimeHostDirs are the only host paths outside the environment's directory that the
// nodes write to: containerd's shim sockets and the CNI library's result cache. Both
// are fixed paths in those projects; their entries go when the pods do.
//
//nolint:gochecknoglobals // a read-only list of paths.
var runtimeHostDirs = []string{"/run/containerd/s", "/run/containerd", "/var/lib/cni/results", "/var/lib/cni"}

// CreateNetwork claims a free slot and creates its bridge, then one namespace per node
// (nodesPerCluster for each of clusters), with addresses and routes per the NetPlan.
// It needs root and iproute2's ip; Close removes everything it made.
func CreateNetwork(ctx context.Context, clusters, nodesPerCluster int) (*Network, error) {
	if err := checkPlan(clusters, nodesPerCluster); err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("nodes need root (network namespaces, bridges, cgroups): run as root, or start the environment without nodes")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, errors.New("nodes need iproute2's ip: apt-get install iproute2")
	}
	if err := ensureInotifyInstances(); err != nil {
		return nil, err
	}
	slot, err := claimSlot(ctx)
	if err != nil {
		return nil, err
	}
	n := &Network{Plan: NetPlan{Slot: slot}, clusters: clusters, nodes: nodesPerCluster}
	for _, d := range runtimeHostDirs {
		if _, err := os.Stat(d); os.IsNotExist(err) {
			n.madeDirs = append(n.madeDirs, d)
		}
	}
	if err := n.create(ctx); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// claimSlot takes the first slot whose bridge it can create, reclaiming slots whose
// owner has died. A lock file serializes claims between processes.
func claimSlot(ctx context.Context) (int, error) {
	if err := os.MkdirAll(slotDir, 0o755); err != nil {
		return 0, err
	}
	lock, err := os.OpenFile(filepath.Join(slotDir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return 0, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return 0, fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck // closing unlocks too
	for slot := range maxSlots {
		p := NetPlan{Slot: slot}
		owner := slotOwner(slot)
		if linkExists(p.BridgeName()) {
			if owner != 0 && processAlive(owner) {
				continue
			}
			// A killed run's leftovers: its processes are gone (PDEATHSIG), its
			// namespaces and bridge are not.
			removeSlot(ctx, p)
		}
		if err := ipCmd(ctx, "link", "add", "name", p.BridgeName(), "type", "bridge"); err != nil {
			continue
		}
		if err := os.WriteFile(slotFile(slot), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
			_ = ipCmd(ctx, "link", "del", p.BridgeName())
			return 0, err
		}
		return slot, nil
	}
	return 0, fmt.Errorf("nodes: all %d network slots are in use by running environments (bridges selkie0-%d)", maxSlots, maxSlots-1)
}

// inotifyInstances is the per-user limit of inotify instances the nodes need: every
// kubelet and containerd watches files (certificates, CNI and pod directories), all as
// root, and the kernel's default of 128 runs out with about five nodes on the host
// (kubelet then fails "too many open files" and containerd's CRI plugin does not load).
const inotifyInstances = 8192

const inotifyInstancesFile = "/proc/sys/fs/inotify/max_user_instances"

// ensureInotifyInstances raises the host's fs.inotify.max_user_instances to
// inotifyInstances if it is lower. It is a limit, not a resource, so it is left raised
// (as kind's documentation advises for hosts that run several nodes).
func ensureInotifyInstances() error {
	data, err := os.ReadFile(inotifyInstancesFile)
	if err != nil {
		return nil // not Linux' procfs: nothing to check
	}
	if n, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && n >= inotifyInstances {
		return nil
	}
	if err := os.WriteFile(inotifyInstancesFile, []byte(strconv.Itoa(inotifyInstances)), 0o644); err != nil {
		return fmt.Errorf("nodes need fs.inotify.max_user_instances ≥ %d (it is %s): %w", inotifyInstances, strings.TrimSpace(string(data)), err)
	}
	return nil
}

func slotFile(slot int) string { return filepath.Join(slotDir, "slot"+strconv.Itoa(slot)) }

func slotOwner(slot int) int {
	data, err := os.ReadFile(slotFile(slot))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

func linkExists(name string) bool {
	_, err := os.Stat(filepath.Join("/sys/class/net", name))
	return err == nil
}

// removeSlot deletes a slot's namespaces and bridge (which takes its routes with it).
func removeSlot(ctx context.Context, p NetPlan) {
	entries, _ := os.ReadDir("/run/netns")
	prefix := fmt.Sprintf("selkie%d-", p.Slot)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			_ = ipCmd(ctx, "netns", "del", e.Name())
		}
	}
	_ = ipCmd(ctx, "link", "del", p.BridgeName())
	_ = os.Remove(slotFile(p.Slot))
}

func (n *Network) create(ctx context.Context) error {
	p := n.Plan
	br := p.BridgeName()
	steps := [][]string{
		{"addr", "add", p.HostIP().String() + "/24", "dev", br},
		{"link", "set", br, "up"},
	}
	for c := range n.clusters {
		for i := range n.nodes {
			steps = append(steps, []string{"route", "add", p.PodCIDR(c, i).String(), "via", p.NodeIP(c, i).String()})
		}
	}
	for _, s := range steps {
		if err := ipCmd(ctx, s...); err != nil {
			return err
		}
	}
	for c := range n.clusters {
		for i := range n.nodes {
			if err := n.createNode(ctx, c, i); err != nil {
				return fmt.Errorf("node %d of cluster %d: %w", i, c, err)
			}
		}
	}
	// Service CIDRs and pools go to a cluster's first node once it exists.
	for c := range n.clusters {
		for _, dst := range []string{p.ServiceCIDR(c).String(), p.LoadBalancerPool(c).String()} {
			if err := ipCmd(ctx, "route", "add", dst, "via", p.NodeIP(c, 0).String()); err != nil {
				return err
			}
		}
	}
	return nil
}

// createNode makes node i of cluster c's namespace: eth0 on the bridge, a default route
// to the host (which forwards nothing, so it only reaches the host itself), routes to
// every other node's pods and to other clusters' load balancers, and IP forwarding on
// (the node routes its pods' traffic).
func (n *Network) createNode(ctx context.Context, c, i int) error {
	p := n.Plan
	ns, veth := p.NetnsName(c, i), p.HostVeth(c, i)
	if err := ipCmd(ctx, "netns", "add", ns); err != nil {
		return err
	}
	n.namespaces = append(n.namespaces, ns)
	steps := [][]string{
		{"link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"link", "set", veth, "master", p.BridgeName(), "up"},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "addr", "add", p.NodeIP(c, i).String() + "/24", "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", ns, "route", "add", "default", "via", p.HostIP().String()},
	}
	for oc := range n.clusters {
		for oi := range n.nodes {
			if oc != c || oi != i {
				steps = append(steps, []string{"-n", ns, "route", "add", p.PodCIDR(oc, oi).String(), "via", p.NodeIP(oc, oi).String()})
			}
		}
		if oc != c {
			steps = append(steps, []string{"-n", ns, "route", "add", p.LoadBalancerPool(oc).String(), "via", p.NodeIP(oc, 0).String()})
		}
	}
	for _, s := range steps {
		if err := ipCmd(ctx, s...); err != nil {
			return err
		}
	}
	return n.sysctls(ctx, ns)
}

// sysctls turns on forwarding in a node's namespace and makes bridged pod traffic pass
// the node's iptables (kube-proxy's Service rules need both). Both are per namespace.
func (n *Network) sysctls(ctx context.Context, ns string) error {
	for _, kv := range []string{"net.ipv4.ip_forward=1", "net.bridge.bridge-nf-call-iptables=1"} {
		cmd := exec.CommandContext(ctx, "nsenter", "--net="+NetnsPath(ns), "sysctl", "-q", "-w", kv)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("sysctl %s in %s: %w: %s", kv, ns, err, bytes.TrimSpace(out))
		}
	}
	return nil
}

// NetnsPath is where iproute2 keeps a named network namespace.
func NetnsPath(name string) string { return filepath.Join("/run/netns", name) }

// Close deletes the namespaces (with their veth pairs) and the bridge (with the host's
// routes through it) and gives the slot back.
func (n *Network) Close() {
	if n == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, ns := range n.namespaces {
		_ = ipCmd(ctx, "netns", "del", ns)
	}
	_ = ipCmd(ctx, "link", "del", n.Plan.BridgeName())
	_ = os.Remove(slotFile(n.Plan.Slot))
	n.namespaces = nil
	for _, d := range n.madeDirs {
		_ = os.Remove(d) // only if empty: another environment may be using it
	}
	if entries, err := os.ReadDir(slotDir); err == nil && len(entries) == 1 && entries[0].Name() == "lock" {
		_ = os.Remove(filepath.Join(slotDir, "lock"))
		_ = os.Remove(slotDir)
	}
}

func ipCmd(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
