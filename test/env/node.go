// SPDX-License-Identifier: Apache-2.0

package env

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// cniBinDir is where Debian's containernetworking-plugins puts the CNI plugins.
const cniBinDir = "/usr/lib/cni"

// Node is a running Kubernetes node: containerd, kubelet and kube-proxy in a network
// namespace of their own, registered with one control plane. The processes share the
// host's file system and mount namespace (kubelet's volume mounts must be visible to
// runc) and keep every file under Dir.
type Node struct {
	// Name is the Node object's name ("<cluster>-node-<n>").
	Name string
	// Dir holds the node's configuration, state and logs.
	Dir string
	// IP is the node's address on the node network; PodCIDR its pods' range.
	IP      netip.Addr
	PodCIDR netip.Prefix
	// Netns is the path of the node's network namespace.
	Netns string
	// Socket is containerd's CRI socket (for crictl and ctr).
	Socket string
	// NodeBin holds containerd, ctr, runc and crictl.
	NodeBin string
	// ReadyAfter is the time from starting containerd to the Node being Ready.
	ReadyAfter time.Duration

	cgroupRoot string
	procs      []*Process
}

// NodeOptions configures StartNode.
type NodeOptions struct {
	// Cluster and Index place the node in the NetPlan (cluster c, node n).
	Cluster, Index int
	// Images are OCI or Docker image tarballs imported before kubelet starts; one of
	// them must hold PauseImage.
	Images []string
	// PauseImage is the pod sandbox image's name as containerd stores it.
	PauseImage string
}

// StartNode starts node opts.Index of cluster opts.Cluster of the network for the
// control plane cp and waits until its Node is Ready.
func StartNode(ctx context.Context, bins Binaries, cp *ControlPlane, network *Network, opts NodeOptions) (*Node, error) {
	name := fmt.Sprintf("%s-node-%d", cp.Name, opts.Index)
	p := network.Plan
	n := &Node{
		Name: name, Dir: filepath.Join(cp.Dir, "node-"+fmt.Sprint(opts.Index)),
		IP: p.NodeIP(opts.Cluster, opts.Index), PodCIDR: p.PodCIDR(opts.Cluster, opts.Index),
		Netns: NetnsPath(p.NetnsName(opts.Cluster, opts.Index)), NodeBin: bins.Node,
		cgroupRoot: "/" + p.NetnsName(opts.Cluster, opts.Index),
	}
	n.Socket = filepath.Join(n.Dir, "containerd.sock")
	if err := n.start(ctx, bins, cp, p.ClusterCIDR(opts.Cluster), opts); err != nil {
		n.Close()
		return nil, errPeer("node "+name, err)
	}
	return n, nil
}

func (n *Node) start(ctx context.Context, bins Binaries, cp *ControlPlane, clusterCIDR netip.Prefix, opts NodeOptions) error {
	start := time.Now()
	if len(n.Socket) > 100 {
		return fmt.Errorf("containerd socket path %s is longer than a unix socket allows: use a shorter environment directory", n.Socket)
	}
	for _, d := range []string{"cni", "pki", "pod-logs", "kubelet"} {
		if err := os.MkdirAll(filepath.Join(n.Dir, d), 0o700); err != nil {
			return err
		}
	}
	if err := createCgroupRoot(n.cgroupRoot); err != nil {
		return err
	}
	cfg, err := n.writeConfig(cp, clusterCIDR, opts.PauseImage)
	if err != nil {
		return err
	}
	path := "PATH=" + bins.Node + ":" + os.Getenv("PATH")
	if err := n.run("containerd", []string{path}, filepath.Join(bins.Node, "containerd"), "--config", filepath.Join(n.Dir, "containerd.toml")); err != nil {
		return err
	}
	if err := n.procs[0].waitReady(ctx, time.Minute, n.ctrProbe); err != nil {
		return err
	}
	for _, img := range opts.Images {
		if err := n.ImportImage(ctx, img); err != nil {
			return err
		}
	}
	if err := n.run("kubelet", []string{path}, filepath.Join(bins.ControlPlane, "kubelet"),
		"--config="+filepath.Join(n.Dir, "kubelet.yaml"), "--kubeconfig="+cfg.KubeletKubeconfig,
		"--hostname-override="+n.Name, "--node-ip="+n.IP.String(),
		"--root-dir="+filepath.Join(n.Dir, "kubelet"), "--cert-dir="+filepath.Join(n.Dir, "pki"), "--v=1"); err != nil {
		return err
	}
	if err := n.run("kube-proxy", []string{path}, filepath.Join(bins.ControlPlane, "kube-proxy"),
		"--config="+filepath.Join(n.Dir, "kube-proxy.yaml"), "--v=1"); err != nil {
		return err
	}
	client, err := cp.Client()
	if err != nil {
		return err
	}
	if err := n.procs[1].waitReady(ctx, 3*time.Minute, nodeReadyProbe(client, n.Name)); err != nil {
		return err
	}
	n.ReadyAfter = time.Since(start)
	return nil
}

// run starts one of the node's processes inside its network namespace.
func (n *Node) run(name string, env []string, bin string, args ...string) error {
	p, err := startProcess(n.Dir, name, env, "nsenter", append([]string{"--net=" + n.Netns, "--", bin}, args...)...)
	if err != nil {
		return err
	}
	n.procs = append(n.procs, p)
	return nil
}

func (n *Node) writeConfig(cp *ControlPlane, clusterCIDR netip.Prefix, pause string) (nodeConfig, error) {
	pki := filepath.Join(n.Dir, "pki")
	client, err := cp.ClusterCA.IssueInto(pki, "kubelet-client", ClientAuth, "system:node:"+n.Name, []string{"system:nodes"})
	if err != nil {
		return nodeConfig{}, err
	}
	serving, err := cp.ClusterCA.IssueInto(pki, "kubelet-serving", ServerAuth, n.Name, nil, n.IP.String(), n.Name)
	if err != nil {
		return nodeConfig{}, err
	}
	proxy, err := cp.ClusterCA.IssueInto(pki, "kube-proxy", ClientAuth, "system:kube-proxy", nil)
	if err != nil {
		return nodeConfig{}, err
	}
	cfg := nodeConfig{
		Name: n.Name, Dir: n.Dir, NodeIP: n.IP.String(), PodCIDR: n.PodCIDR.String(), ClusterCIDR: clusterCIDR.String(),
		Socket: n.Socket, NodeBin: n.NodeBin, CNIBin: cniBinDir, CgroupRoot: n.cgroupRoot, PauseImage: pause,
		ClusterCA: cp.ClusterCA.CertFile, KubeletCert: serving.CertFile, KubeletKey: serving.KeyFile,
		KubeletKubeconfig: filepath.Join(n.Dir, "kubelet.kubeconfig"), ProxyKubeconfig: filepath.Join(n.Dir, "kube-proxy.kubeconfig"),
	}
	if err := writeKubeconfig(cfg.KubeletKubeconfig, cp.APIURL, cp.ClusterCA.CertPEM, client, "kubelet"); err != nil {
		return cfg, err
	}
	if err := writeKubeconfig(cfg.ProxyKubeconfig, cp.APIURL, cp.ClusterCA.CertPEM, proxy, "kube-proxy"); err != nil {
		return cfg, err
	}
	for file, t := range map[string]*template.Template{
		"containerd.toml": containerdTemplate, "cni/10-selkie.conflist": cniTemplate,
		"kubelet.yaml": kubeletTemplate, "kube-proxy.yaml": kubeProxyTemplate,
	} {
		data, err := render(t, cfg)
		if err != nil {
			return cfg, err
		}
		if err := os.WriteFile(filepath.Join(n.Dir, file), data, 0o600); err != nil {
			return cfg, err
		}
	}
	// Pods get no cluster DNS; names in their resolv.conf would only leak lookups.
	return cfg, os.WriteFile(filepath.Join(n.Dir, "resolv.conf"), []byte("options ndots:1\n"), 0o644)
}

// ctrProbe asks containerd for its version over the node's socket.
func (n *Node) ctrProbe(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, filepath.Join(n.NodeBin, "ctr"), "--address", n.Socket, "version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr version: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ImportImage imports an image tarball into the node's containerd (namespace k8s.io,
// where kubelet looks), so pods can use it without a registry.
func (n *Node) ImportImage(ctx context.Context, tarball string) error {
	return ImportImage(ctx, n.NodeBin, NodeInfo{Name: n.Name, IP: n.IP.String(), Socket: n.Socket}, tarball)
}

// ImportImage imports an image tarball into a running node's containerd with ctr from
// nodeBin (Info.NodeBin), for tests that have only the env file.
func ImportImage(ctx context.Context, nodeBin string, node NodeInfo, tarball string) error {
	out, err := exec.CommandContext(ctx, filepath.Join(nodeBin, "ctr"), "--address", node.Socket, "-n", "k8s.io",
		"images", "import", tarball).CombinedOutput()
	if err != nil {
		return fmt.Errorf("import %s into node %s: %w: %s", tarball, node.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Crictl runs crictl against the node's containerd and returns its output.
func (n *Node) Crictl(ctx context.Context, args ...string) ([]byte, error) {
	return n.crictl(ctx, args...).CombinedOutput()
}

// CrictlStdout is Crictl for output to parse: crictl's warnings (it says so when it has
// no configuration file) go to standard error, which is in the error only.
func (n *Node) CrictlStdout(ctx context.Context, args ...string) (string, error) {
	cmd := n.crictl(ctx, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("crictl %s on node %s: %w: %s", strings.Join(args, " "), n.Name, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return strings.TrimSpace(string(out)), nil
}

func (n *Node) crictl(ctx context.Context, args ...string) *exec.Cmd {
	args = append([]string{"--runtime-endpoint", "unix://" + n.Socket, "--image-endpoint", "unix://" + n.Socket, "--timeout", "20s"}, args...)
	return exec.CommandContext(ctx, filepath.Join(n.NodeBin, "crictl"), args...)
}

// nodeReadyProbe wants the Node's Ready condition True.
func nodeReadyProbe(client kubernetes.Interface, name string) func(context.Context) error {
	return func(ctx context.Context) error {
		node, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady {
				if c.Status == corev1.ConditionTrue {
					return nil
				}
				return fmt.Errorf("node %s not ready: %s", name, c.Message)
			}
		}
		return fmt.Errorf("node %s has no Ready condition yet", name)
	}
}

// Processes returns the node's processes in start order.
func (n *Node) Processes() []*Process { return n.procs }
