// SPDX-License-Identifier: Apache-2.0

package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/selkie-dev/selkie/pkg/certauthority"
	"github.com/selkie-dev/selkie/test/env"
)

const (
	// SupervisorNamespace and ConciergeNamespace are the manifests' namespaces.
	SupervisorNamespace = "selkie-supervisor"
	ConciergeNamespace  = "selkie-concierge"
	// Audience is the workload cluster's audience in the JWTAuthenticator.
	Audience = "demo-workload-1"
	// Group is the group allowed to list namespaces on the workload cluster; the demo
	// user pinny is in it in both Dex and LDAP.
	Group = "seals"
)

// Options configures Start.
type Options struct {
	// Out receives the demo's narration; nil discards it.
	Out io.Writer
	// Dir holds the environment, logs, kubeconfigs and manifests; it must be set.
	Dir string
	// Repo is the repository root; empty finds it from the working directory upwards.
	Repo string
	// Bin is where the three binaries are built; empty means <Repo>/bin.
	Bin string
	// Audit turns on the control planes' audit logs of ServiceAccount requests.
	Audit bool
	// InCluster installs Selkie as pods with the Helm chart, from an image built and
	// imported into the nodes, instead of running the servers as local processes.
	InCluster bool
}

// Demo is a running demo. Close stops it.
type Demo struct {
	Repo, Dir, Bin string
	Env            *env.Environment
	// Mgmt runs the supervisor's manifests, Workload the concierge's.
	Mgmt, Workload *env.ControlPlane
	// SupervisorKubeconfig and ConciergeKubeconfig authenticate as the ServiceAccounts
	// selkie-supervisor and selkie-concierge with TokenRequest tokens.
	SupervisorKubeconfig, ConciergeKubeconfig string
	Supervisor, Concierge                     *Server
	// SupervisorCAFile signed the supervisor's serving certificate (127.0.0.1).
	SupervisorCAFile string
	// Issuer is the FederationDomain's issuer; SupervisorAPIPort, ConciergePort and
	// ProxyPort are the loopback ports of the aggregated APIs and the impersonation proxy.
	Issuer                                      string
	SupervisorAPIPort, ConciergePort, ProxyPort int
	// Kubeconfig (Dex, password flow), BrowserKubeconfig (Dex, browser flow) and
	// LDAPKubeconfig (LDAP, password flow) are the workload cluster's kubeconfigs from
	// `selkie get kubeconfig`; their sessions are cached next to them.
	Kubeconfig, BrowserKubeconfig, LDAPKubeconfig string

	out   io.Writer
	procs []*Server
	step  int
}

// Start runs the demo's flow and leaves everything running. On failure it stops what it
// started and returns the error.
func Start(ctx context.Context, opts Options) (*Demo, error) {
	if opts.Dir == "" {
		return nil, errors.New("demo: Options.Dir is empty")
	}
	d := &Demo{Repo: opts.Repo, Dir: opts.Dir, Bin: opts.Bin, out: opts.Out}
	if d.out == nil {
		d.out = io.Discard
	}
	if d.Repo == "" {
		var err error
		if d.Repo, err = findRepo(); err != nil {
			return nil, err
		}
	}
	if d.Bin == "" {
		d.Bin = filepath.Join(d.Repo, "bin")
	}
	run := d.run
	if opts.InCluster {
		run = d.runInCluster
	}
	if err := run(ctx, opts.Audit); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// findRepo walks up from the working directory to the directory holding deploy/manifests.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "deploy", "manifests")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from the repository root (make demo)")
		}
		dir = parent
	}
}

// Say prints the next numbered step.
func (d *Demo) Say(format string, args ...any) {
	d.step++
	fmt.Fprintf(d.out, "\n==> %d. %s\n", d.step, fmt.Sprintf(format, args...))
}

// Printf prints to the demo's output.
func (d *Demo) Printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

func (d *Demo) run(ctx context.Context, audit bool) error {
	d.Say("Build selkie, selkie-supervisor and selkie-concierge into %s", d.Bin)
	for bin, pkg := range map[string]string{"selkie": "./cmd/cli", "selkie-supervisor": "./cmd/supervisor", "selkie-concierge": "./cmd/concierge"} {
		build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(d.Bin, bin), pkg)
		build.Dir = d.Repo
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	}

	d.Say("Start the local environment (management + workload control planes, Dex, slapd) in %s", d.Dir)
	e, err := env.Start(ctx, env.Options{Dir: filepath.Join(d.Dir, "env"), WorkloadClusters: 1, Progress: d.out, AuditLog: audit})
	if err != nil {
		return err
	}
	d.Env = e
	d.Mgmt, d.Workload = e.ControlPlanes[0], e.ControlPlanes[1]
	if err := d.installAndRun(ctx); err != nil {
		return err
	}
	if err := d.configure(ctx); err != nil {
		return err
	}
	return d.logIn(ctx)
}

// installAndRun installs the manifests and runs both servers as their ServiceAccounts.
func (d *Demo) installAndRun(ctx context.Context) error {
	e, mgmt, workload := d.Env, d.Mgmt, d.Workload
	d.Say("Install deploy/manifests/supervisor*.yaml on %s and deploy/manifests/concierge*.yaml on %s (no Deployments; Services → ExternalName localhost)", mgmt.Name, workload.Name)
	for _, p := range []*int{&d.SupervisorAPIPort, &d.ConciergePort, &d.ProxyPort} {
		var err error
		if *p, err = freePort(); err != nil {
			return err
		}
	}
	if err := d.install(ctx, mgmt.AdminKubeconfig, "supervisor", d.SupervisorAPIPort, false); err != nil {
		return err
	}
	if err := d.install(ctx, workload.AdminKubeconfig, "concierge", d.ConciergePort, false); err != nil {
		return err
	}

	d.Say("Mint TokenRequest tokens for ServiceAccounts %s/selkie-supervisor and %s/selkie-concierge", SupervisorNamespace, ConciergeNamespace)
	var err error
	if d.SupervisorKubeconfig, err = d.serviceAccountKubeconfig(ctx, mgmt.AdminKubeconfig, SupervisorNamespace, "selkie-supervisor"); err != nil {
		return err
	}
	if d.ConciergeKubeconfig, err = d.serviceAccountKubeconfig(ctx, workload.AdminKubeconfig, ConciergeNamespace, "selkie-concierge"); err != nil {
		return err
	}
	for _, k := range []string{d.SupervisorKubeconfig, d.ConciergeKubeconfig} {
		out, err := d.Kubectl(ctx, k, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
		if err != nil {
			return err
		}
		d.Printf("    %s: %s\n", k, out)
	}

	d.Say("Run selkie-supervisor as system:serviceaccount:%s:selkie-supervisor on https://%s (API on 127.0.0.1:%d)", SupervisorNamespace, e.SupervisorAddr, d.SupervisorAPIPort)
	supCA, err := certauthority.New("selkie-demo-supervisor-ca", 7*24*time.Hour)
	if err != nil {
		return err
	}
	kp, err := supCA.IssueServingCert([]string{"127.0.0.1"}, 7*24*time.Hour)
	if err != nil {
		return err
	}
	certFile, keyFile := filepath.Join(d.Dir, "supervisor-tls.crt"), filepath.Join(d.Dir, "supervisor-tls.key")
	d.SupervisorCAFile = filepath.Join(d.Dir, "supervisor-ca.crt")
	for f, data := range map[string][]byte{certFile: kp.CertPEM, keyFile: kp.KeyPEM, d.SupervisorCAFile: supCA.CertPEM()} {
		if err := os.WriteFile(f, data, 0o600); err != nil {
			return err
		}
	}
	supAPI := strconv.Itoa(d.SupervisorAPIPort)
	if d.Supervisor, err = d.start("selkie-supervisor", "serve", "--kubeconfig", d.SupervisorKubeconfig, "--namespace", SupervisorNamespace,
		"--https-address", e.SupervisorAddr, "--tls-cert-file", certFile, "--tls-key-file", keyFile,
		"--api-bind-address", "127.0.0.1", "--api-port", supAPI, "--api-cert-dir", filepath.Join(d.Dir, "supervisor-api-certs")); err != nil {
		return err
	}
	if err := waitHealthy(ctx, d.Supervisor, "https://"+e.SupervisorAddr+"/healthz"); err != nil {
		return err
	}
	if err := waitHealthy(ctx, d.Supervisor, "https://127.0.0.1:"+supAPI+"/healthz"); err != nil {
		return err
	}
	if err := d.install(ctx, mgmt.AdminKubeconfig, "supervisor", d.SupervisorAPIPort, true); err != nil {
		return err
	}

	d.Say("Run selkie-concierge as system:serviceaccount:%s:selkie-concierge on 127.0.0.1:%d (cluster signing key strategy; impersonation proxy on :%d)", ConciergeNamespace, d.ConciergePort, d.ProxyPort)
	conPort := strconv.Itoa(d.ConciergePort)
	if d.Concierge, err = d.start("selkie-concierge", "serve", "--kubeconfig", d.ConciergeKubeconfig, "--namespace", ConciergeNamespace,
		"--bind-address", "127.0.0.1", "--secure-port", conPort, "--cert-dir", filepath.Join(d.Dir, "concierge-certs"),
		"--cluster-signing-cert-file", workload.ClusterCA.CertFile, "--cluster-signing-key-file", workload.ClusterCA.KeyFile,
		// The spec deploy/manifests passes: the concierge creates its CredentialIssuer with it.
		"--credential-issuer-spec", `{"impersonationProxy":{"mode":"auto","service":{"type":"LoadBalancer"}}}`,
		// The impersonation proxy runs too (mode auto and no control-plane nodes), so its
		// RBAC is exercised; its LoadBalancer Service never gets an address here.
		"--impersonation-proxy-port", strconv.Itoa(d.ProxyPort)); err != nil {
		return err
	}
	if err := waitHealthy(ctx, d.Concierge, "https://127.0.0.1:"+conPort+"/healthz"); err != nil {
		return err
	}
	return d.install(ctx, workload.AdminKubeconfig, "concierge", d.ConciergePort, true)
}

// configure creates the FederationDomain with its IdPs and the JWTAuthenticator.
func (d *Demo) configure(ctx context.Context) error {
	e, mgmt := d.Env, d.Mgmt
	d.Say("Create FederationDomain https://%s/demo with Dex (OIDCIdentityProvider) and LDAP (LDAPIdentityProvider)", e.SupervisorAddr)
	d.Issuer = "https://" + e.SupervisorAddr + "/demo"
	objs, err := d.supervisorObjects()
	if err != nil {
		return err
	}
	if err := d.Apply(ctx, mgmt.AdminKubeconfig, "federationdomain.yaml", objs); err != nil {
		return err
	}
	for _, obj := range []string{"oidcidentityprovider/dex", "ldapidentityprovider/ldap", "federationdomain/demo"} {
		if err := d.KubectlWait(ctx, mgmt.AdminKubeconfig, SupervisorNamespace, obj, "jsonpath={.status.phase}=Ready"); err != nil {
			return err
		}
	}

	return d.createJWTAuthenticator(ctx)
}

// logIn generates the kubeconfigs and logs in through Dex and LDAP.
func (d *Demo) logIn(ctx context.Context) error {
	workload := d.Workload
	d.Say("selkie get kubeconfig --kubeconfig %s (password flow for Dex, browser flow, LDAP)", workload.AdminKubeconfig)
	d.Kubeconfig = filepath.Join(d.Dir, "kubeconfig")
	d.BrowserKubeconfig = filepath.Join(d.Dir, "kubeconfig-browser")
	d.LDAPKubeconfig = filepath.Join(d.Dir, "kubeconfig-ldap")
	for _, k := range []struct{ out, idp, flow string }{
		{d.Kubeconfig, "dex", "cli_password"}, {d.BrowserKubeconfig, "dex", "browser_authcode"}, {d.LDAPKubeconfig, "ldap", "cli_password"},
	} {
		args := []string{"get", "kubeconfig", "--kubeconfig", workload.AdminKubeconfig,
			"--oidc-session-cache", k.out + "-sessions.yaml", "--credential-cache", k.out + "-credentials.yaml",
			"--upstream-identity-provider-name", k.idp, "--upstream-identity-provider-flow", k.flow, "-o", k.out,
			"--timeout", "2m"}
		if d.Concierge != nil {
			// Out of cluster the proxy's LoadBalancer Service never gets an address (no
			// node runs the proxy); the signing key strategy is ready, so do not wait.
			args = append(args, "--concierge-skip-wait")
		}
		d.Printf("    selkie %s\n", strings.Join(args, " "))
		if out, err := exec.CommandContext(ctx, filepath.Join(d.Bin, "selkie"), args...).CombinedOutput(); err != nil {
			return fmt.Errorf("selkie get kubeconfig: %v\n%s", err, out)
		}
	}

	pinny, _ := d.Env.User("pinny")
	d.Say("kubectl --kubeconfig %s get ns   (as %s through Dex, PINNIPED_USERNAME/PINNIPED_PASSWORD)", d.Kubeconfig, pinny.Email)
	out, err := d.Run(ctx, []string{"PINNIPED_USERNAME=" + pinny.Email, "PINNIPED_PASSWORD=" + pinny.Password},
		d.Env.Kubectl, "--kubeconfig", d.Kubeconfig, "get", "ns")
	if err != nil {
		return fmt.Errorf("kubectl get ns through Selkie: %w", err)
	}
	d.Printf("%s", Indent(out))
	if out, err = d.Selkie(ctx, nil, "whoami", "--kubeconfig", d.Kubeconfig); err != nil {
		return fmt.Errorf("selkie whoami: %w", err)
	}
	d.Printf("%s", Indent(out))

	d.Say("kubectl --kubeconfig %s get ns; selkie whoami   (as %s through LDAP, in its group %q there too)", d.LDAPKubeconfig, pinny.Username, Group)
	ldapLogin := []string{"PINNIPED_USERNAME=" + pinny.Username, "PINNIPED_PASSWORD=" + pinny.Password}
	if out, err = d.Run(ctx, ldapLogin, d.Env.Kubectl, "--kubeconfig", d.LDAPKubeconfig, "get", "ns"); err != nil {
		return fmt.Errorf("kubectl get ns through LDAP: %w", err)
	}
	d.Printf("%s", Indent(out))
	if out, err = d.Selkie(ctx, ldapLogin, "whoami", "--kubeconfig", d.LDAPKubeconfig); err != nil {
		return fmt.Errorf("selkie whoami through LDAP: %w", err)
	}
	d.Printf("%s", Indent(out))

	d.Say("Check the servers' logs for RBAC denials of the ServiceAccounts")
	denials := 0
	if d.Supervisor == nil {
		for _, line := range d.inClusterForbidden(ctx) {
			denials++
			d.Printf("    %s\n", line)
		}
	}
	for _, s := range d.procs {
		for _, line := range s.ForbiddenLines() {
			denials++
			d.Printf("    %s: %s\n", s.Name, line)
		}
	}
	if denials == 0 {
		d.Printf("    none: the RBAC in deploy/manifests was sufficient for everything above\n")
	}
	return nil
}

// Kubectl runs kubectl with kubeconfig, returning its output; the error carries the
// output and the ends of the servers' logs.
func (d *Demo) Kubectl(ctx context.Context, kubeconfig string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, d.Env.Kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, d.logTails())
	}
	return string(out), nil
}

// KubectlWait waits up to 90 s for cond (kubectl wait --for) on obj in namespace ns.
func (d *Demo) KubectlWait(ctx context.Context, kubeconfig, ns, obj, cond string) error {
	args := []string{"wait", "--for=" + cond, "--timeout=90s", obj}
	if ns != "" {
		args = append(args, "-n", ns)
	}
	_, err := d.Kubectl(ctx, kubeconfig, args...)
	if err == nil {
		d.Printf("    %s: %s\n", obj, strings.TrimPrefix(cond, "jsonpath={.status.phase}="))
	}
	return err
}

// Apply writes manifest to <dir>/<name> and applies it with kubeconfig.
func (d *Demo) Apply(ctx context.Context, kubeconfig, name, manifest string) error {
	path := filepath.Join(d.Dir, name)
	if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
		return err
	}
	_, err := d.Kubectl(ctx, kubeconfig, "apply", "-f", path)
	return err
}

// Selkie runs the built selkie CLI with extra environment variables (see Run).
func (d *Demo) Selkie(ctx context.Context, extraEnv []string, args ...string) (string, error) {
	return d.Run(ctx, extraEnv, filepath.Join(d.Bin, "selkie"), args...)
}

// Run runs a command with extra environment variables, returning its stdout (and its
// stderr with the error).
func (d *Demo) Run(ctx context.Context, extraEnv []string, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %v\n%s%s%s", filepath.Base(bin), strings.Join(args, " "), err, stdout.String(), stderr.String(), d.logTails())
	}
	return stdout.String(), nil
}

// Exited returns an error naming the first process that ended on its own, or nil.
func (d *Demo) Exited() error {
	if p := d.Env.Exited(); p != nil {
		return fmt.Errorf("%s (pid %d) exited on its own; see %s", p.Name, p.PID(), p.LogFile)
	}
	for _, s := range d.procs {
		if s.Exited() {
			return fmt.Errorf("%s exited on its own; see %s", s.Name, s.LogFile)
		}
	}
	return nil
}

// StopServers stops the supervisor and the concierge by PID, newest first, leaving the
// environment running.
func (d *Demo) StopServers() {
	for i := len(d.procs) - 1; i >= 0; i-- {
		d.procs[i].Stop()
	}
}

// Close stops the servers by PID (SIGTERM, then SIGKILL after 10 s), then the
// environment. It is safe to call more than once and on a partly started demo.
func (d *Demo) Close() {
	if len(d.procs) > 0 || d.Env != nil {
		d.Printf("\n==> Stop everything the demo started\n")
	}
	for i := len(d.procs) - 1; i >= 0; i-- {
		s := d.procs[i]
		d.Printf("    %s (pid %d)\n", s.Name, s.PID())
		s.Stop()
	}
	d.procs = nil
	if d.Env != nil {
		var pids []string
		for _, p := range d.Env.Processes() {
			pids = append(pids, strconv.Itoa(p.PID()))
		}
		d.Printf("    environment (pids %s)\n", strings.Join(pids, " "))
		d.Env.Close()
		d.Env = nil
	}
}

func (d *Demo) logTails() string {
	var b strings.Builder
	for _, s := range d.procs {
		fmt.Fprintf(&b, "\n--- last lines of %s ---\n%s", s.LogFile, env.Tail(s.LogFile, 15))
	}
	return b.String()
}
