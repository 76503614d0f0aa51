// SPDX-License-Identifier: Apache-2.0

package env

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Options configures Start.
type Options struct {
	// Dir is where everything goes; empty means a new temp dir removed by Close.
	Dir string
	// WorkloadClusters adds this many control planes besides the management cluster.
	WorkloadClusters int
	// DexRedirectURIs are registered for the supervisor's client at Dex. Empty reserves
	// a loopback address for the supervisor (Info.SupervisorAddr) and registers the
	// callbacks of the issuers https://<addr>/<path> for the SupervisorIssuerPaths.
	DexRedirectURIs []string
	// Progress receives one line per started peer; nil discards.
	Progress io.Writer
	// AuditLog turns on every control plane's audit log of ServiceAccount requests
	// (ControlPlaneOptions.AuditLog; the path is ControlPlane.AuditLog).
	AuditLog bool
	// SupervisorInCluster reserves, instead of a loopback address, the management
	// cluster's load-balancer address NetPlan.SupervisorIP for the supervisor's
	// LoadBalancer Service (port 443) as Info.SupervisorAddr, and registers its issuers'
	// callbacks at Dex. It needs nodes.
	SupervisorInCluster bool
	// NodesPerCluster is how many nodes each control plane gets; 0 means one.
	NodesPerCluster int
	// NoNodes starts the control planes alone, on loopback, with nothing to run pods
	// (what the environment was before it had nodes; needs no root).
	NoNodes bool
	// Images are image tarballs (OCI layout or docker-save format) imported into every
	// node, besides the pause image the environment builds itself.
	Images []string
}

// Environment is a running local environment. Close stops it.
type Environment struct {
	Info
	// EnvFile is the path of the env file describing the environment.
	EnvFile string
	// ControlPlanes are the running control planes; ControlPlanes[0] is the management cluster.
	ControlPlanes []*ControlPlane
	// Dex and LDAP are the running upstream identity providers.
	Dex  *Dex
	LDAP *LDAP
	// CA signed the serving certificates of Dex and slapd (and is free for other servers).
	CA *CA
	// Network is the nodes' share of the host network; nil without nodes.
	Network *Network
	// Nodes[c] are the nodes of ControlPlanes[c].
	Nodes [][]*Node
	// LoadBalancers[c] gives ControlPlanes[c]'s LoadBalancer Services addresses.
	LoadBalancers []*LoadBalancers
	// ReadyAfter is the time from Start to everything ready.
	ReadyAfter time.Duration

	removeDir bool
}

// DefaultUsers are the environment's test users, with a fresh random password each run.
func DefaultUsers() []User {
	return []User{
		{Username: "pinny", Email: "pinny@example.com", Password: randomString(12), Groups: []string{"seals", "seals/admins"}},
		{Username: "wally", Email: "wally@example.com", Password: randomString(12), Groups: []string{"walruses"}},
	}
}

// defaultGroups mirrors the users' groups in LDAP, plus a posixGroup.
func defaultGroups() []LDAPGroup {
	return []LDAPGroup{
		{Name: "seals", Members: []string{"pinny"}},
		{Name: "pinnipeds", Members: []string{"pinny", "wally"}},
		{Name: "ball-players", Members: []string{"pinny"}, Posix: true},
	}
}

// LDAPGroupsOf is what a search of the seeded directory's groupOfNames groups (member =
// the user's DN, the LDAPIdentityProvider's default) finds for username, sorted.
func LDAPGroupsOf(username string) []string {
	var groups []string
	for _, g := range defaultGroups() {
		if !g.Posix && slices.Contains(g.Members, username) {
			groups = append(groups, g.Name)
		}
	}
	slices.Sort(groups)
	return groups
}

// Start builds or finds the binaries, then starts slapd, Dex and the control planes,
// and writes the env file. On any failure it stops what it started and returns a
// *PeerError naming the peer that failed.
func Start(ctx context.Context, opts Options) (*Environment, error) {
	start := time.Now()
	e := &Environment{}
	if err := e.start(ctx, opts); err != nil {
		e.Close()
		return nil, err
	}
	e.ReadyAfter = time.Since(start)
	progress(opts, "environment ready in %s; env file %s", e.ReadyAfter.Round(time.Millisecond), e.EnvFile)
	return e, nil
}

//nolint:gocyclo // a linear sequence of peers to start, each failing with its own error.
func (e *Environment) start(ctx context.Context, opts Options) error {
	bins, err := FindBinaries(ctx)
	if err != nil {
		return errPeer("binaries", err)
	}
	if e.Info.Dir = opts.Dir; e.Info.Dir == "" {
		if e.Info.Dir, err = os.MkdirTemp("", "selkie-env-"); err != nil {
			return err
		}
		e.removeDir = true
	}
	pki := filepath.Join(e.Info.Dir, "pki")
	if err := os.MkdirAll(pki, 0o700); err != nil {
		return err
	}
	if e.CA, err = NewCA(pki, "ca", "selkie-env-ca"); err != nil {
		return errPeer("PKI", err)
	}
	if !opts.NoNodes {
		nodes := max(opts.NodesPerCluster, 1)
		if e.Network, err = CreateNetwork(ctx, opts.WorkloadClusters+1, nodes); err != nil {
			return errPeer("node network", err)
		}
		progress(opts, "node network %s on bridge %s (host %s)", e.Network.Plan.SlotPrefix(), e.Network.Plan.BridgeName(), e.Network.Plan.HostIP())
	}
	e.Users = DefaultUsers()
	var hostIPs []string
	if e.Network != nil {
		hostIPs = []string{e.Network.Plan.HostIP().String()}
	}
	if e.LDAP, err = StartLDAPWith(ctx, filepath.Join(e.Info.Dir, "ldap"), e.CA, LDAPOptions{ListenIPs: hostIPs,
		Seed: func(l *LDAP, conn *ldap.Conn) error { return l.seed(conn, e.Users, defaultGroups()) }}); err != nil {
		return err
	}
	progress(opts, "slapd ready in %s (StartTLS %s, LDAPS %s)", e.LDAP.ReadyAfter.Round(time.Millisecond), e.LDAP.StartTLSAddr, e.LDAP.LDAPSAddr)
	redirects := opts.DexRedirectURIs
	switch {
	case len(redirects) > 0:
	case opts.SupervisorInCluster && e.Network == nil:
		return errPeer("supervisor address", errors.New("SupervisorInCluster needs nodes (NoNodes is set)"))
	case opts.SupervisorInCluster:
		e.SupervisorAddr = e.Network.Plan.SupervisorIP().String()
	default:
		if e.SupervisorAddr, err = reserveAddr(); err != nil {
			return err
		}
	}
	if len(redirects) == 0 {
		for _, path := range SupervisorIssuerPaths {
			redirects = append(redirects, "https://"+e.SupervisorAddr+path+"/callback")
		}
	}
	e.Dex, err = StartDex(ctx, bins, filepath.Join(e.Info.Dir, "dex"), e.CA, DexOptions{Users: e.Users, RedirectURIs: redirects, LDAP: e.LDAP,
		ListenIP: strings.Join(hostIPs, ""), Persistent: true}) // refresh tokens survive a Dex outage, as at a real IdP
	if err != nil {
		return err
	}
	progress(opts, "dex ready in %s (%s)", e.Dex.ReadyAfter.Round(time.Millisecond), e.Dex.Issuer)
	for n := 0; n <= opts.WorkloadClusters; n++ {
		name := "management"
		if n > 0 {
			name = "workload-" + strconv.Itoa(n)
		}
		cp, err := StartControlPlaneWith(ctx, bins, filepath.Join(e.Info.Dir, name), name,
			ControlPlaneOptions{AuditLog: opts.AuditLog, Network: e.Network, Index: n})
		if err != nil {
			return err
		}
		e.ControlPlanes = append(e.ControlPlanes, cp)
		progress(opts, "control plane %s ready (etcd %s, kube-apiserver %s, kube-controller-manager %s) at %s", name,
			cp.ReadyAfter["etcd"].Round(time.Millisecond), cp.ReadyAfter["kube-apiserver"].Round(time.Millisecond),
			cp.ReadyAfter["kube-controller-manager"].Round(time.Millisecond), cp.APIURL)
	}
	if e.Network != nil {
		if err := e.startNodes(ctx, bins, opts); err != nil {
			return err
		}
	}
	e.fillInfo(bins)
	e.EnvFile = filepath.Join(e.Info.Dir, "env")
	return WriteEnvFile(e.EnvFile, e.Info)
}

func (e *Environment) fillInfo(bins Binaries) {
	e.Kubectl = filepath.Join(bins.ControlPlane, "kubectl")
	e.CABundle = e.CA.CertFile
	e.Dex.fill(&e.Info.Dex)
	e.Info.LDAP = LDAPInfo{StartTLSAddr: e.LDAP.StartTLSAddr, LDAPSAddr: e.LDAP.LDAPSAddr, BaseDN: e.LDAP.BaseDN,
		UsersDN: e.LDAP.UsersDN, GroupsDN: e.LDAP.GroupsDN, BindDN: e.LDAP.AdminDN, BindPassword: e.LDAP.AdminPassword}
	e.PIDs = []int{e.LDAP.proc.PID(), e.Dex.proc.PID()}
	for c, cp := range e.ControlPlanes {
		ci := ClusterInfo{Name: cp.Name, APIURL: cp.APIURL, Kubeconfig: cp.AdminKubeconfig,
			ClusterCACert: cp.ClusterCA.CertFile, ClusterCAKey: cp.ClusterCA.KeyFile, FrontProxyCACert: cp.FrontProxyCA.CertFile}
		if e.Network != nil {
			ci.LoadBalancerPool = e.Network.Plan.LoadBalancerPool(c).String()
			for _, n := range e.Nodes[c] {
				ci.Nodes = append(ci.Nodes, NodeInfo{Name: n.Name, IP: n.IP.String(), Socket: n.Socket})
			}
		}
		e.Clusters = append(e.Clusters, ci)
	}
	for _, p := range e.Processes()[2:] {
		e.PIDs = append(e.PIDs, p.PID())
	}
	if e.Network != nil {
		e.HostIP, e.NodeBin = e.Network.Plan.HostIP().String(), bins.Node
	}
}

func (d *Dex) fill(i *DexInfo) {
	*i = DexInfo{Issuer: d.Issuer, ClientID: d.ClientID, ClientSecret: d.ClientSecret, RedirectURIs: d.RedirectURIs}
}

// Processes returns every running process of the environment in start order.
func (e *Environment) Processes() []*Process {
	var procs []*Process
	if e.LDAP != nil {
		procs = append(procs, e.LDAP.proc)
	}
	if e.Dex != nil {
		procs = append(procs, e.Dex.proc)
	}
	for c, cp := range e.ControlPlanes {
		procs = append(procs, cp.procs...)
		if c < len(e.Nodes) {
			for _, n := range e.Nodes[c] {
				procs = append(procs, n.procs...)
			}
		}
	}
	return procs
}

// Exited returns the first process that has ended on its own, or nil.
func (e *Environment) Exited() *Process {
	for _, p := range e.Processes() {
		if p.Exited() {
			return p
		}
	}
	return nil
}

// Close stops every process by PID (control planes first, newest first) and removes the
// directory if Start created it. It is safe to call on a partly started environment.
func (e *Environment) Close() {
	for _, lb := range e.LoadBalancers {
		lb.Stop()
	}
	for c := len(e.Nodes) - 1; c >= 0; c-- {
		for i := len(e.Nodes[c]) - 1; i >= 0; i-- {
			e.Nodes[c][i].Close()
		}
	}
	for i := len(e.ControlPlanes) - 1; i >= 0; i-- {
		e.ControlPlanes[i].Close()
	}
	e.Dex.Close()
	e.LDAP.Close()
	e.Network.Close()
	if e.removeDir && e.Info.Dir != "" {
		_ = os.RemoveAll(e.Info.Dir)
	}
}

func progress(opts Options, format string, args ...any) {
	if opts.Progress != nil {
		fmt.Fprintf(opts.Progress, "env: "+format+"\n", args...)
	}
}

func randomString(bytes int) string {
	b := make([]byte, bytes)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b)
}

// SupervisorIssuerPaths are the issuer paths whose callbacks Dex knows when Start
// reserves the supervisor's address.
//
//nolint:gochecknoglobals // a read-only list; tests name the issuers by it.
var SupervisorIssuerPaths = []string{"/fd1", "/fd2", "/demo"}

// reserveAddr picks a free loopback port for a server that starts later.
func reserveAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
