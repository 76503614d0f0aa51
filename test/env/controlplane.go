// SPDX-License-Identifier: Apache-2.0

package env

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// controllers are the kube-controller-manager controllers the environment needs: CSR
// signing/approving/cleaning, namespace deletion, garbage collection, service accounts and
// their tokens, ClusterRole aggregation and the root CA publisher. v1.37 wants these
// canonical `…-controller` names.
//
//nolint:gochecknoglobals // a read-only list of controllers.
var controllers = []string{
	"certificatesigningrequest-signing-controller",
	"certificatesigningrequest-approving-controller",
	"certificatesigningrequest-cleaner-controller",
	"namespace-controller",
	"garbage-collector-controller",
	"serviceaccount-controller",
	"serviceaccount-token-controller",
	"clusterrole-aggregation-controller",
	"root-ca-certificate-publisher-controller",
}

// nodeControllers run besides controllers when the control plane has nodes: what turns
// Deployments into running, reachable pods and keeps them so.
//
//nolint:gochecknoglobals // a read-only list of controllers.
var nodeControllers = []string{
	"deployment-controller",
	"replicaset-controller",
	"daemonset-controller",
	"statefulset-controller",
	"job-controller",
	"endpoints-controller",
	"endpointslice-controller",
	"endpointslice-mirroring-controller",
	"disruption-controller",
	"node-lifecycle-controller",
	"taint-eviction-controller",
	"pod-garbage-collector-controller",
	"ttl-after-finished-controller",
}

// ControlPlane is a running etcd + kube-apiserver + kube-controller-manager on 127.0.0.1.
type ControlPlane struct {
	// Name tells control planes of one environment apart ("management", "workload-1").
	Name string
	// Dir holds the PKI, kubeconfigs, etcd data and logs.
	Dir string
	// APIURL is the kube-apiserver's https URL.
	APIURL string
	// AdminKubeconfig authenticates as admin (group system:masters).
	AdminKubeconfig string
	// ClusterCA signs client certificates the API server trusts, including CSRs.
	ClusterCA *CA
	// FrontProxyCA is the requestheader CA aggregated API servers must trust.
	FrontProxyCA *CA
	// Kubectl is the path of the kubectl binary matching this control plane.
	Kubectl string
	// ReadyAfter records how long each component took from start to ready.
	ReadyAfter map[string]time.Duration
	// AuditLog is the kube-apiserver's audit log (JSON lines of audit.k8s.io/v1 Events)
	// when ControlPlaneOptions.AuditLog is set, else empty.
	AuditLog string

	procs  []*Process
	probes map[string]func(context.Context) error
}

// ControlPlaneOptions configures StartControlPlaneWith.
type ControlPlaneOptions struct {
	// AuditLog starts kube-apiserver with an audit policy that logs, at level Metadata,
	// every request of a user in the group system:serviceaccounts (and nothing else) to
	// <dir>/audit.log. The log is written synchronously (mode blocking), so it is
	// complete as soon as a request has been answered.
	AuditLog bool
	// Network, when set, prepares the control plane for nodes as cluster Index of the
	// network's plan: kube-apiserver listens on the host's bridge address (nodes and pods
	// cannot reach the host's loopback) and advertises it in the kubernetes Service,
	// ClusterIPs come from the cluster's Service CIDR, and kube-scheduler and the
	// workload controllers run.
	Network *Network
	Index   int
	// AnonymousPaths, when set, restricts anonymous requests to these paths with an
	// AuthenticationConfiguration's anonymous conditions, as hardened API servers do
	// (every other anonymous request gets 401).
	AnonymousPaths []string
}

// auditPolicy logs ServiceAccounts' requests at level Metadata: who, verb, resource,
// namespace, name and response code; no bodies.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  userGroups: ["system:serviceaccounts"]
- level: None
`

type cpPKI struct {
	cluster, frontProxy                                *CA
	apiserver, admin, kcm, scheduler, frontProxyClient KeyPair
	kubeletClient                                      KeyPair
	saKey, saPub                                       string
}

// addressing is where a control plane listens and what its Services look like.
type addressing struct {
	bindIP, serviceCIDR, serviceIP string
	nodes                          bool
}

func addressingFor(opts ControlPlaneOptions) addressing {
	if opts.Network == nil {
		return addressing{bindIP: "127.0.0.1", serviceCIDR: "10.0.0.0/24", serviceIP: "10.0.0.1"}
	}
	p := opts.Network.Plan
	return addressing{bindIP: p.HostIP().String(), serviceCIDR: p.ServiceCIDR(opts.Index).String(),
		serviceIP: p.APIServiceIP(opts.Index).String(), nodes: true}
}

// StartControlPlane starts a control plane named name under dir (created if missing) with
// a fresh PKI and free loopback ports, and waits until each component is ready.
func StartControlPlane(ctx context.Context, bins Binaries, dir, name string) (*ControlPlane, error) {
	return StartControlPlaneWith(ctx, bins, dir, name, ControlPlaneOptions{})
}

// StartControlPlaneWith is StartControlPlane with options.
func StartControlPlaneWith(ctx context.Context, bins Binaries, dir, name string, opts ControlPlaneOptions) (*ControlPlane, error) {
	cp := &ControlPlane{Name: name, Dir: dir, Kubectl: filepath.Join(bins.ControlPlane, "kubectl"), ReadyAfter: map[string]time.Duration{}}
	if err := cp.start(ctx, bins.ControlPlane, opts); err != nil {
		cp.Close()
		return nil, errPeer("control plane "+name, err)
	}
	return cp, nil
}

func (cp *ControlPlane) start(ctx context.Context, binDir string, opts ControlPlaneOptions) error {
	pkiDir := filepath.Join(cp.Dir, "pki")
	if err := os.MkdirAll(pkiDir, 0o700); err != nil {
		return err
	}
	addr := addressingFor(opts)
	pki, err := newControlPlanePKI(pkiDir, addr)
	if err != nil {
		return fmt.Errorf("PKI: %w", err)
	}
	cp.ClusterCA, cp.FrontProxyCA = pki.cluster, pki.frontProxy
	ports, err := freePorts(5)
	if err != nil {
		return err
	}
	etcdPort, peerPort, apiPort, kcmPort, schedPort := ports[0], ports[1], ports[2], ports[3], ports[4]
	cp.APIURL = "https://" + net.JoinHostPort(addr.bindIP, strconv.Itoa(apiPort))
	cp.AdminKubeconfig = filepath.Join(cp.Dir, "admin.kubeconfig")
	if err := writeKubeconfig(cp.AdminKubeconfig, cp.APIURL, pki.cluster.CertPEM, pki.admin, "admin"); err != nil {
		return err
	}
	kcmKubeconfig := filepath.Join(cp.Dir, "kcm.kubeconfig")
	if err := writeKubeconfig(kcmKubeconfig, cp.APIURL, pki.cluster.CertPEM, pki.kcm, "system:kube-controller-manager"); err != nil {
		return err
	}

	etcdURL := "http://" + hostPort(etcdPort)
	peerURL := "http://" + hostPort(peerPort)
	if err := cp.run(ctx, "etcd", filepath.Join(binDir, "etcd"), 60*time.Second, httpProbe(etcdURL+"/health", nil),
		"--name=env", "--data-dir="+filepath.Join(cp.Dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		// The peer URLs must move too: the default :2380 collides between control planes.
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=env="+peerURL, "--unsafe-no-fsync", "--log-level=warn"); err != nil {
		return err
	}

	adminTLS, err := clientTLS(pki.cluster.CertPEM, pki.admin)
	if err != nil {
		return err
	}
	args := apiserverArgs(etcdURL, apiPort, pki, addr)
	if opts.AuditLog {
		policy := filepath.Join(cp.Dir, "audit-policy.yaml")
		if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
			return err
		}
		cp.AuditLog = filepath.Join(cp.Dir, "audit.log")
		args = append(args, "--audit-policy-file="+policy, "--audit-log-path="+cp.AuditLog,
			"--audit-log-format=json", "--audit-log-mode=blocking")
	}
	if len(opts.AnonymousPaths) > 0 {
		config := "apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\nanonymous:\n  enabled: true\n  conditions:\n"
		for _, p := range opts.AnonymousPaths {
			config += "  - path: " + strconv.Quote(p) + "\n"
		}
		file := filepath.Join(cp.Dir, "authentication-config.yaml")
		if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
			return err
		}
		args = append(args, "--authentication-config="+file)
	}
	if err := cp.run(ctx, "kube-apiserver", filepath.Join(binDir, "kube-apiserver"), 3*time.Minute,
		httpProbe(cp.APIURL+"/readyz", adminTLS), args...); err != nil {
		return err
	}

	ctrls := controllers
	if addr.nodes {
		ctrls = append(append([]string{}, controllers...), nodeControllers...)
	}
	if err := cp.run(ctx, "kube-controller-manager", filepath.Join(binDir, "kube-controller-manager"), 2*time.Minute,
		// The controller manager serves a self-signed certificate; readiness is all we ask of it.
		httpProbe("https://"+hostPort(kcmPort)+"/healthz", &tls.Config{InsecureSkipVerify: true}),
		"--kubeconfig="+kcmKubeconfig,
		"--authentication-kubeconfig="+kcmKubeconfig, "--authorization-kubeconfig="+kcmKubeconfig,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(kcmPort),
		"--leader-elect=false", "--controllers="+strings.Join(ctrls, ","),
		"--cluster-signing-cert-file="+pki.cluster.CertFile, "--cluster-signing-key-file="+pki.cluster.KeyFile,
		"--root-ca-file="+pki.cluster.CertFile, "--service-account-private-key-file="+pki.saKey,
		// Without per-controller service-account credentials every controller acts as
		// system:kube-controller-manager, whose role cannot sign CSRs or publish the root CA.
		"--use-service-account-credentials=true", "--profiling=false"); err != nil {
		return err
	}
	if addr.nodes {
		if err := cp.startScheduler(ctx, binDir, schedPort, pki); err != nil {
			return err
		}
	}
	return cp.publishClusterInfo(ctx)
}

// publishClusterInfo writes kube-public/cluster-info as kubeadm does: a kubeconfig with
// the API server's address and CA and no credentials, readable by anyone. Components
// such as the concierge advertise it to clients.
func (cp *ControlPlane) publishClusterInfo(ctx context.Context) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[""] = &clientcmdapi.Cluster{Server: cp.APIURL, CertificateAuthorityData: cp.ClusterCA.CertPEM}
	kubeconfig, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	restCfg, err := cp.RESTConfig()
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	_, err = client.CoreV1().ConfigMaps("kube-public").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-info", Namespace: "kube-public"},
		Data:       map[string]string{"kubeconfig": string(kubeconfig)},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("publish kube-public/cluster-info: %w", err)
	}
	return nil
}

func apiserverArgs(etcdURL string, apiPort int, pki *cpPKI, addr addressing) []string {
	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=" + addr.bindIP, "--advertise-address=" + addr.bindIP, "--secure-port=" + strconv.Itoa(apiPort),
	}
	if !addr.nodes {
		// The default lease reconciler refuses a loopback advertise address.
		args = append(args, "--endpoint-reconciler-type=none")
	} else {
		// Logs, exec and port-forward go to the kubelet at the node's address: its name
		// resolves nowhere, and a lookup must not leave the machine.
		args = append(args, "--kubelet-preferred-address-types=InternalIP",
			"--kubelet-certificate-authority="+pki.cluster.CertFile,
			"--kubelet-client-certificate="+pki.kubeletClient.CertFile, "--kubelet-client-key="+pki.kubeletClient.KeyFile)
	}
	return append(args,
		"--tls-cert-file="+pki.apiserver.CertFile, "--tls-private-key-file="+pki.apiserver.KeyFile,
		"--client-ca-file="+pki.cluster.CertFile,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+pki.saPub, "--service-account-signing-key-file="+pki.saKey,
		"--service-cluster-ip-range="+addr.serviceCIDR,
		"--authorization-mode=Node,RBAC",
		"--requestheader-client-ca-file="+pki.frontProxy.CertFile,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-uid-headers=X-Remote-Uid",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file="+pki.frontProxyClient.CertFile, "--proxy-client-key-file="+pki.frontProxyClient.KeyFile,
		"--allow-privileged=true", "--profiling=false",
	)
}

func newControlPlanePKI(dir string, addr addressing) (*cpPKI, error) {
	var p cpPKI
	var err error
	if p.cluster, err = NewCA(dir, "ca", "kubernetes-ca"); err != nil {
		return nil, err
	}
	if p.frontProxy, err = NewCA(dir, "front-proxy-ca", "front-proxy-ca"); err != nil {
		return nil, err
	}
	issue := []struct {
		out   *KeyPair
		ca    *CA
		usage Usage
		cn    string
		orgs  []string
		hosts []string
	}{
		{&p.apiserver, p.cluster, ServerAuth, "kube-apiserver", nil, []string{"127.0.0.1", "localhost", addr.bindIP, addr.serviceIP,
			"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}},
		{&p.admin, p.cluster, ClientAuth, "admin", []string{"system:masters"}, nil},
		{&p.kcm, p.cluster, ClientAuth, "system:kube-controller-manager", nil, nil},
		{&p.scheduler, p.cluster, ClientAuth, "system:kube-scheduler", nil, nil},
		{&p.kubeletClient, p.cluster, ClientAuth, "kube-apiserver-kubelet-client", []string{"system:masters"}, nil},
		{&p.frontProxyClient, p.frontProxy, ClientAuth, "front-proxy-client", nil, nil},
	}
	for _, i := range issue {
		name := strings.TrimPrefix(strings.ReplaceAll(i.cn, ":", "-"), "system-")
		if *i.out, err = i.ca.Issue(name, i.usage, i.cn, i.orgs, i.hosts...); err != nil {
			return nil, err
		}
	}
	p.saKey, p.saPub, err = newServiceAccountKey(dir)
	return &p, err
}

// run starts one component and waits for its probe; the component joins cp's processes.
func (cp *ControlPlane) run(ctx context.Context, name, bin string, timeout time.Duration, probe func(context.Context) error, args ...string) error {
	start := time.Now()
	p, err := StartProcess(cp.Dir, name, bin, args...)
	if err != nil {
		return err
	}
	cp.procs = append(cp.procs, p)
	if cp.probes == nil {
		cp.probes = map[string]func(context.Context) error{}
	}
	cp.probes[name] = probe
	if err := p.waitReady(ctx, timeout, probe); err != nil {
		return err
	}
	cp.ReadyAfter[name] = time.Since(start)
	return nil
}

// startScheduler runs kube-scheduler, which only the nodes need.
func (cp *ControlPlane) startScheduler(ctx context.Context, binDir string, port int, pki *cpPKI) error {
	kubeconfig := filepath.Join(cp.Dir, "scheduler.kubeconfig")
	if err := writeKubeconfig(kubeconfig, cp.APIURL, pki.cluster.CertPEM, pki.scheduler, "system:kube-scheduler"); err != nil {
		return err
	}
	return cp.run(ctx, "kube-scheduler", filepath.Join(binDir, "kube-scheduler"), 2*time.Minute,
		httpProbe("https://"+hostPort(port)+"/healthz", &tls.Config{InsecureSkipVerify: true}),
		"--kubeconfig="+kubeconfig, "--authentication-kubeconfig="+kubeconfig, "--authorization-kubeconfig="+kubeconfig,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(port), "--leader-elect=false", "--profiling=false")
}

// Client returns an admin clientset.
func (cp *ControlPlane) Client() (kubernetes.Interface, error) {
	cfg, err := cp.RESTConfig()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// Restart stops one component ("etcd", "kube-apiserver", "kube-controller-manager"),
// keeps it away for down, starts it again with the same flags and data, and waits until
// it is ready: a fault the tests inject.
func (cp *ControlPlane) Restart(ctx context.Context, component string, down time.Duration) error {
	for i, p := range cp.procs {
		if p.Name != component {
			continue
		}
		next, err := p.Respawn(ctx, down, 3*time.Minute, cp.probes[component])
		if next != nil {
			cp.procs[i] = next
		}
		if err != nil {
			return errPeer(component, err)
		}
		return nil
	}
	return fmt.Errorf("control plane %s has no component %q", cp.Name, component)
}

// Processes returns the control plane's running processes in start order.
func (cp *ControlPlane) Processes() []*Process { return cp.procs }

// RESTConfig returns a client configuration for the admin user.
func (cp *ControlPlane) RESTConfig() (*rest.Config, error) {
	return clientcmd.BuildConfigFromFlags("", cp.AdminKubeconfig)
}

// Close stops every component by PID in reverse start order.
func (cp *ControlPlane) Close() {
	stopAll(cp.procs)
	cp.procs = nil
}

func writeKubeconfig(path, server string, caPEM []byte, kp KeyPair, user string) error {
	cert, err := os.ReadFile(kp.CertFile)
	if err != nil {
		return err
	}
	key, err := os.ReadFile(kp.KeyFile)
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: user}
	cfg.CurrentContext = "local"
	return clientcmd.WriteToFile(*cfg, path)
}

func clientTLS(caPEM []byte, kp KeyPair) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no CA certificate in bundle")
	}
	cert, err := tls.LoadX509KeyPair(kp.CertFile, kp.KeyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
