// SPDX-License-Identifier: Apache-2.0

package env

import (
	"bytes"
	"fmt"
	"text/template"
)

// nodeConfig is what the node's configuration files are rendered from.
type nodeConfig struct {
	Name, Dir, NodeIP, PodCIDR, ClusterCIDR, Socket, NodeBin, CNIBin, CgroupRoot       string
	PauseImage, ClusterCA, KubeletCert, KubeletKey, KubeletKubeconfig, ProxyKubeconfig string
}

// containerdTemplate configures containerd 2 for one node: its own root, state and
// socket (two nodes on one host share nothing), runc from the node's binaries with a
// state root of its own, the CNI config in the node's directory, pod network namespaces
// mounted under its state directory (so Close finds them), and the locally built pause
// image pinned as the sandbox image (nothing is ever pulled: no registry is reachable).
// restrict_oom_score_adj keeps runc from lowering oom_score_adj, which needs
// CAP_SYS_RESOURCE; NRI is off because its socket path is fixed host-wide.
//
//nolint:gochecknoglobals // parsed once; templates are safe for concurrent use and never changed.
var containerdTemplate = template.Must(template.New("containerd").Parse(`version = 3
root = "{{.Dir}}/containerd/root"
state = "{{.Dir}}/containerd/state"
disabled_plugins = ["io.containerd.nri.v1.nri", "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "{{.Socket}}"

[ttrpc]
  address = "{{.Socket}}.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "{{.Dir}}/containerd/opt"

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "{{.PauseImage}}"

[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  disable_apparmor = true
  cdi_spec_dirs = []
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "{{.NodeBin}}/runc"
        Root = "{{.Dir}}/runc"
        SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["{{.CNIBin}}"]
    conf_dir = "{{.Dir}}/cni"
    use_internal_loopback = true

[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`))

// cniTemplate is the node's pod network: a bridge in the node's namespace, one address
// per pod from the node's pod CIDR (host-local IPAM, its state in the node's directory),
// no masquerading (every address in the environment is routed, none leaves the host),
// hairpin mode so a pod reaches itself through a Service.
//
//nolint:gochecknoglobals // parsed once; templates are safe for concurrent use and never changed.
var cniTemplate = template.Must(template.New("cni").Parse(`{
  "cniVersion": "1.0.0",
  "name": "selkie",
  "plugins": [{
    "type": "bridge",
    "bridge": "cni0",
    "isGateway": true,
    "ipMasq": false,
    "hairpinMode": true,
    "ipam": {
      "type": "host-local",
      "dataDir": "{{.Dir}}/cni-ipam",
      "ranges": [[{"subnet": "{{.PodCIDR}}"}]],
      "routes": [{"dst": "0.0.0.0/0"}]
    }
  }]
}
`))

// kubeletTemplate: webhook authentication and authorization against the API server
// (what the API server's exec/logs/port-forward requests present), the host's cgroups
// v1 through cgroupfs under a cgroup root of the node's own, every path under the
// node's directory, eviction thresholds low enough for a shared developer disk, and no
// image garbage collection (the imported images cannot be pulled again).
//
//nolint:gochecknoglobals // parsed once; templates are safe for concurrent use and never changed.
var kubeletTemplate = template.Must(template.New("kubelet").Parse(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: {{.NodeIP}}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "{{.ClusterCA}}"}
authorization: {mode: Webhook}
tlsCertFile: "{{.KubeletCert}}"
tlsPrivateKeyFile: "{{.KubeletKey}}"
containerRuntimeEndpoint: "unix://{{.Socket}}"
cgroupDriver: cgroupfs
cgroupRoot: "{{.CgroupRoot}}"
cgroupsPerQOS: true
failCgroupV1: false
failSwapOn: false
podLogsDir: "{{.Dir}}/pod-logs"
resolvConf: "{{.Dir}}/resolv.conf"
staticPodPath: ""
maxPods: 110
evictionHard: {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%", "nodefs.inodesFree": "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
rotateCertificates: false
serverTLSBootstrap: false
protectKernelDefaults: false
localStorageCapacityIsolation: true
`))

// kubeProxyTemplate: iptables mode in the node's namespace. conntrack limits are
// host-wide settings a namespace may not change, so kube-proxy leaves them alone.
//
//nolint:gochecknoglobals // parsed once; templates are safe for concurrent use and never changed.
var kubeProxyTemplate = template.Must(template.New("kube-proxy").Parse(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: "{{.ProxyKubeconfig}}"
hostnameOverride: {{.Name}}
mode: iptables
clusterCIDR: {{.ClusterCIDR}}
nodePortAddresses: [primary]
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`))

func render(t *template.Template, data any) ([]byte, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", t.Name(), err)
	}
	return b.Bytes(), nil
}
