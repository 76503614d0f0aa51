// SPDX-License-Identifier: Apache-2.0

package env

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
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
	e.Users = DefaultUsers()
	if e.LDAP, err = StartLDAP(ctx, filepath.Join(e.Info.Dir, "ldap"), e.CA, e.Users, defaultGroups()); err != nil {
		return err
	}
	progress(opts, "slapd ready in %s (StartTLS %s, LDAPS %s)", e.LDAP.ReadyAfter.Round(time.Millisecond), e.LDAP.StartTLSAddr, e.LDAP.LDAPSAddr)
	redirects := opts.DexRedirectURIs
	if len(redirects) == 0 {
		if e.SupervisorAddr, err = reserveAddr(); err != nil {
			return err
		}
		for _, path := range SupervisorIssuerPaths {
			redirects = append(redirects, "https://"+e.SupervisorAddr+path+"/callback")
		}
	}
	e.Dex, err = StartDex(ctx, bins, filepath.Join(e.Info.Dir, "dex"), e.CA, DexOptions{Users: e.Users, RedirectURIs: redirects, LDAP: e.LDAP})
	if err != nil {
		return err
	}
	progress(opts, "dex ready in %s (%s)", e.Dex.ReadyAfter.Round(time.Millisecond), e.Dex.Issuer)
	for n := 0; n <= opts.WorkloadClusters; n++ {
		name := "management"
		if n > 0 {
			name = "workload-" + strconv.Itoa(n)
		}
		cp, err := StartControlPlaneWith(ctx, bins, filepath.Join(e.Info.Dir, name), name, ControlPlaneOptions{AuditLog: opts.AuditLog})
		if err != nil {
			return err
		}
		e.ControlPlanes = append(e.ControlPlanes, cp)
		progress(opts, "control plane %s ready (etcd %s, kube-apiserver %s, kube-controller-manager %s) at %s", name,
			cp.ReadyAfter["etcd"].Round(time.Millisecond), cp.ReadyAfter["kube-apiserver"].Round(time.Millisecond),
			cp.ReadyAfter["kube-controller-manager"].Round(time.Millisecond), cp.APIURL)
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
	for _, cp := range e.ControlPlanes {
		e.Clusters = append(e.Clusters, ClusterInfo{Name: cp.Name, APIURL: cp.APIURL, Kubeconfig: cp.AdminKubeconfig,
			ClusterCACert: cp.ClusterCA.CertFile, ClusterCAKey: cp.ClusterCA.KeyFile, FrontProxyCACert: cp.FrontProxyCA.CertFile})
		for _, p := range cp.procs {
			e.PIDs = append(e.PIDs, p.PID())
		}
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
	for _, cp := range e.ControlPlanes {
		procs = append(procs, cp.procs...)
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
	for i := len(e.ControlPlanes) - 1; i >= 0; i-- {
		e.ControlPlanes[i].Close()
	}
	e.Dex.Close()
	e.LDAP.Close()
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
