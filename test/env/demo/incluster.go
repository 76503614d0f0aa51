// SPDX-License-Identifier: Apache-2.0

package demo

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/selkie-dev/selkie/pkg/certauthority"
	"github.com/selkie-dev/selkie/test/env"
)

const (
	// Image is the image the in-cluster demo builds, imports into the nodes and
	// installs: the chart's default name.
	Image = "selkie:dev"
	// Image2 is the same image under a second tag, for rolling the Deployments to a new
	// image as an upgrade does.
	Image2 = "selkie:dev2"
	// DefaultTLSSecret holds the supervisor's certificate for its IP-address issuer.
	DefaultTLSSecret = "selkie-supervisor-default-tls"
	// SigningSecret holds the workload cluster's CA for the concierge's signing strategy.
	SigningSecret = "workload-cluster-signing"
)

// runInCluster is the demo as a user runs Selkie: the image built and imported into the
// nodes, the Helm chart installing the supervisor (two replicas, LoadBalancer Service,
// TLS passthrough: the pods serve the issuer's certificate) on the management cluster
// and the concierge (two replicas) on the workload cluster, then the same logins.
func (d *Demo) runInCluster(ctx context.Context, audit bool) error {
	images := filepath.Join(d.Dir, "images", "selkie.tar")
	d.Say("Build the Selkie image %s without a container daemon (make image) into %s", Image, images)
	start := time.Now()
	if err := env.BuildTestImages(ctx, images, "demo", Image, Image2); err != nil {
		return err
	}
	d.Bin = filepath.Join(filepath.Dir(images), "bin-"+filepath.Base(images)) // the image's own binaries, the CLI included
	d.Printf("    built in %s\n", time.Since(start).Round(time.Millisecond))

	d.Say("Start the local environment (management + workload control planes with a node each, Dex, slapd) in %s", d.Dir)
	e, err := env.Start(ctx, env.Options{Dir: filepath.Join(d.Dir, "env"), WorkloadClusters: 1, Progress: d.out,
		AuditLog: audit, Images: []string{images}, SupervisorInCluster: true})
	if err != nil {
		return err
	}
	d.Env = e
	d.Mgmt, d.Workload = e.ControlPlanes[0], e.ControlPlanes[1]
	if err := d.installSupervisor(ctx); err != nil {
		return err
	}
	if err := d.configureInCluster(ctx); err != nil {
		return err
	}
	if err := d.installConcierge(ctx); err != nil {
		return err
	}
	return d.logIn(ctx)
}

// peerBin returns the directory of a tool hack/peer-bins.sh builds (helm, ytt): from
// SELKIE_<NAME>_BIN as make demo exports it, else by running the script.
func (d *Demo) peerBin(ctx context.Context, name string) (string, error) {
	key := "SELKIE_" + strings.ToUpper(name) + "_BIN"
	if dir := os.Getenv(key); dir != "" {
		return dir, nil
	}
	out, err := exec.CommandContext(ctx, filepath.Join(d.Repo, "hack", "peer-bins.sh"), name).Output()
	if err != nil {
		return "", fmt.Errorf("hack/peer-bins.sh %s: %w", name, err)
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), key+"="), nil
}

// helm runs the Helm binary hack/peer-bins.sh built.
func (d *Demo) helm(ctx context.Context, kubeconfig string, args ...string) error {
	bin, err := d.peerBin(ctx, "helm")
	if err != nil {
		return err
	}
	args = append(args, "--kubeconfig", kubeconfig)
	d.Printf("    helm %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "helm"), args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(d.Dir, "helm", "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(d.Dir, "helm", "config"), "HELM_DATA_HOME="+filepath.Join(d.Dir, "helm", "data"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (d *Demo) installSupervisor(ctx context.Context) error {
	mgmt, addr := d.Mgmt, d.Env.SupervisorAddr
	d.Say("helm install the supervisor on %s: 2 replicas of %s behind a LoadBalancer Service at %s (TLS passthrough)", mgmt.Name, Image, addr)
	values := fmt.Sprintf(`supervisor:
  image: %q
  image_pull_policy: Never
  replicas: 2
  service: {type: LoadBalancer, load_balancer_ip: %q}
  default_tls_secret_name: %s
concierge: {enabled: false}
`, Image, addr, DefaultTLSSecret)
	file := filepath.Join(d.Dir, "supervisor-values.yaml")
	if err := os.WriteFile(file, []byte(values), 0o600); err != nil {
		return err
	}
	start := time.Now()
	if err := d.helm(ctx, mgmt.AdminKubeconfig, "install", "selkie-supervisor", filepath.Join(d.Repo, "deploy", "helm", "selkie"),
		"--values", file, "--wait", "--timeout", "3m"); err != nil {
		return fmt.Errorf("%w%s", err, d.podReport(ctx, mgmt.AdminKubeconfig, SupervisorNamespace))
	}
	d.Printf("    pods Ready in %s\n", time.Since(start).Round(time.Millisecond))

	// An IP-address issuer's clients send no TLS server name: the supervisor serves them
	// its default certificate, from this Secret.
	ca, err := certauthority.New("selkie-demo-supervisor-ca", 7*24*time.Hour)
	if err != nil {
		return err
	}
	kp, err := ca.IssueServingCert([]string{addr}, 7*24*time.Hour)
	if err != nil {
		return err
	}
	d.SupervisorCAFile = filepath.Join(d.Dir, "supervisor-ca.crt")
	certFile, keyFile := filepath.Join(d.Dir, "supervisor-tls.crt"), filepath.Join(d.Dir, "supervisor-tls.key")
	for f, data := range map[string][]byte{d.SupervisorCAFile: ca.CertPEM(), certFile: kp.CertPEM, keyFile: kp.KeyPEM} {
		if err := os.WriteFile(f, data, 0o600); err != nil {
			return err
		}
	}
	_, err = d.Kubectl(ctx, mgmt.AdminKubeconfig, "-n", SupervisorNamespace, "create", "secret", "tls", DefaultTLSSecret,
		"--cert", certFile, "--key", keyFile)
	return err
}

// configureInCluster creates the FederationDomain (Dex and LDAP reached by the pods at
// the host's bridge address) and waits until it is Ready.
func (d *Demo) configureInCluster(ctx context.Context) error {
	mgmt := d.Mgmt
	d.Issuer = "https://" + d.Env.SupervisorAddr + "/demo"
	d.Say("Create FederationDomain %s with Dex (OIDCIdentityProvider) and LDAP (LDAPIdentityProvider)", d.Issuer)
	_, port, err := net.SplitHostPort(d.Env.LDAP.LDAPSAddr)
	if err != nil {
		return err
	}
	objs, err := d.supervisorObjectsFor(net.JoinHostPort(d.Env.HostIP, port))
	if err != nil {
		return err
	}
	if err := d.Apply(ctx, mgmt.AdminKubeconfig, "federationdomain.yaml", objs); err != nil {
		return err
	}
	for _, obj := range []string{"oidcidentityprovider/dex", "ldapidentityprovider/ldap", "federationdomain/demo"} {
		if err := d.KubectlWait(ctx, mgmt.AdminKubeconfig, SupervisorNamespace, obj, "jsonpath={.status.phase}=Ready"); err != nil {
			return fmt.Errorf("%w%s", err, d.podReport(ctx, mgmt.AdminKubeconfig, SupervisorNamespace))
		}
	}
	return nil
}

// installConcierge installs the concierge with the Helm chart and a values file, then
// gives it the workload cluster's signing key in a Secret.
func (d *Demo) installConcierge(ctx context.Context) error {
	workload := d.Workload
	d.Say("helm install the concierge on %s: 2 replicas of %s, signing key from Secret %s, impersonation proxy on a LoadBalancer", workload.Name, Image, SigningSecret)
	values := fmt.Sprintf(`concierge:
  image: %q
  image_pull_policy: Never
  replicas: 2
  strategies: {cluster_signing_secret: %s}
supervisor: {enabled: false}
`, Image, SigningSecret)
	file := filepath.Join(d.Dir, "concierge-values.yaml")
	if err := os.WriteFile(file, []byte(values), 0o600); err != nil {
		return err
	}
	start := time.Now()
	if err := d.helm(ctx, workload.AdminKubeconfig, "install", "selkie-concierge", filepath.Join(d.Repo, "deploy", "helm", "selkie"),
		"--values", file, "--wait", "--timeout", "3m"); err != nil {
		return fmt.Errorf("%w%s", err, d.podReport(ctx, workload.AdminKubeconfig, ConciergeNamespace))
	}
	d.Printf("    pods Ready in %s\n", time.Since(start).Round(time.Millisecond))
	if _, err := d.Kubectl(ctx, workload.AdminKubeconfig, "-n", ConciergeNamespace, "create", "secret", "tls", SigningSecret,
		"--cert", workload.ClusterCA.CertFile, "--key", workload.ClusterCA.KeyFile); err != nil {
		return err
	}
	if err := d.waitForSigningKey(ctx, workload.AdminKubeconfig); err != nil {
		return err
	}
	if err := d.KubectlWait(ctx, workload.AdminKubeconfig, "", "apiservice/v1alpha1.login.concierge.selkie.dev", "condition=Available"); err != nil {
		return err
	}
	return d.createJWTAuthenticator(ctx)
}

// waitForSigningKey waits (up to 90 s) until the CredentialIssuer reports the signing key
// strategy a success: the concierge reads a Secret created after its install within
// seconds.
func (d *Demo) waitForSigningKey(ctx context.Context, kubeconfig string) error {
	start := time.Now()
	const query = `jsonpath={.items[*].status.strategies[?(@.type=="KubeClusterSigningCertificate")].status}`
	var last string
	for time.Since(start) < 90*time.Second {
		out, err := d.Kubectl(ctx, kubeconfig, "get", "credentialissuers", "-o", query)
		if err == nil && strings.TrimSpace(out) == "Success" {
			d.Printf("    signing key in use after %s\n", time.Since(start).Round(time.Millisecond))
			return nil
		}
		last = out
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("the concierge did not report its signing key from Secret %s within 90 s (strategy status %q)%s",
		SigningSecret, last, d.podReport(ctx, kubeconfig, ConciergeNamespace))
}

// podReport describes a namespace's pods and the end of their logs, for errors.
func (d *Demo) podReport(ctx context.Context, kubeconfig, ns string) string {
	return PodReport(ctx, d.Env.Kubectl, kubeconfig, ns)
}

// PodReport describes the pods of namespace ns (those labelled app=<ns>, as Selkie's
// are) and the end of their logs, for errors.
func PodReport(ctx context.Context, kubectl, kubeconfig, ns string) string {
	var b strings.Builder
	for _, args := range [][]string{{"get", "pods", "-o", "wide"}, {"logs", "--all-containers", "--prefix", "--tail=20", "-l", "app=" + ns}} {
		out, _ := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kubeconfig, "-n", ns}, args...)...).CombinedOutput()
		fmt.Fprintf(&b, "\n--- kubectl -n %s %s ---\n%s", ns, strings.Join(args, " "), out)
	}
	return b.String()
}

// inClusterForbidden returns the pods' log lines that report an RBAC denial.
func (d *Demo) inClusterForbidden(ctx context.Context) []string {
	var lines []string
	for _, c := range []struct{ kubeconfig, ns string }{{d.Mgmt.AdminKubeconfig, SupervisorNamespace}, {d.Workload.AdminKubeconfig, ConciergeNamespace}} {
		out, _ := exec.CommandContext(ctx, d.Env.Kubectl, "--kubeconfig", c.kubeconfig, "-n", c.ns, "logs",
			"--all-containers", "--prefix", "-l", "app="+c.ns).CombinedOutput()
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "forbidden") {
				lines = append(lines, l)
			}
		}
	}
	return lines
}
