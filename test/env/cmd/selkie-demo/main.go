// SPDX-License-Identifier: Apache-2.0

// Command selkie-demo is `make demo`: it builds the three binaries, starts the local
// environment (a management and a workload control plane, Dex as the "Okta" stand-in,
// slapd), installs the CRDs and RBAC from deploy/manifests, runs selkie-supervisor and
// selkie-concierge out of cluster as the ServiceAccounts those manifests create, sets up
// a FederationDomain with Dex and LDAP and a JWTAuthenticator, generates kubeconfigs with
// `selkie get kubeconfig` and runs `kubectl get ns` through Selkie by password. Then it
// stops everything it started, or with DEMO_KEEP=1 keeps it running until Ctrl-C.
//
// The servers run on 127.0.0.1, so the manifests' Deployments are skipped and their
// Services are applied as ExternalName Services for "localhost"; the APIServices point
// at the servers' real loopback ports (the aggregator connects to externalName:port).
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"

	"github.com/selkie-dev/selkie/pkg/certauthority"
	"github.com/selkie-dev/selkie/test/env"
)

const (
	supervisorNS = "selkie-supervisor"
	conciergeNS  = "selkie-concierge"
	// audience is the workload cluster's audience in the JWTAuthenticator.
	audience = "demo-workload-1"
	// group is the Dex group allowed to list namespaces on the workload cluster.
	group = "seals"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "selkie-demo: FAILED:", err)
		os.Exit(1)
	}
}

type demo struct {
	repo, dir, bin string
	e              *env.Environment
	procs          []*server
	step           int
}

// server is a selkie-supervisor or selkie-concierge process we started.
type server struct {
	name, log string
	cmd       *exec.Cmd
	done      chan struct{}
}

func run() error {
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	keep := os.Getenv("DEMO_KEEP") == "1"
	repo, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(repo, "deploy", "manifests")); err != nil {
		return errors.New("run from the repository root (make demo)")
	}
	dir := os.Getenv("DEMO_DIR")
	if dir == "" {
		if dir, err = os.MkdirTemp("", "selkie-demo-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	d := &demo{repo: repo, dir: dir, bin: filepath.Join(repo, "bin")}
	ok := false
	defer func() {
		d.stopAll()
		if ok && os.Getenv("DEMO_DIR") == "" {
			_ = os.RemoveAll(dir)
		} else {
			fmt.Printf("Logs and files kept in %s\n", dir)
		}
	}()
	if err := d.run(ctx); err != nil {
		return err
	}
	if keep {
		fmt.Println("\nDEMO_KEEP=1: everything keeps running. Press Ctrl-C to stop it.")
		if err := d.hold(ctx); err != nil {
			return err
		}
	}
	ok = true
	return nil
}

func (d *demo) say(format string, args ...any) {
	d.step++
	fmt.Printf("\n==> %d. %s\n", d.step, fmt.Sprintf(format, args...))
}

func (d *demo) run(ctx context.Context) error {
	d.say("Build selkie, selkie-supervisor and selkie-concierge into %s", d.bin)
	for bin, pkg := range map[string]string{"selkie": "./cmd/cli", "selkie-supervisor": "./cmd/supervisor", "selkie-concierge": "./cmd/concierge"} {
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(d.bin, bin), pkg).CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	}

	d.say("Start the local environment (management + workload control planes, Dex, slapd) in %s", d.dir)
	e, err := env.Start(ctx, env.Options{Dir: filepath.Join(d.dir, "env"), WorkloadClusters: 1, Progress: os.Stdout})
	if err != nil {
		return err
	}
	d.e = e
	mgmt, workload := e.Clusters[0], e.Clusters[1]

	d.say("Install deploy/manifests/supervisor*.yaml on %s and deploy/manifests/concierge*.yaml on %s (no Deployments; Services → ExternalName localhost)", mgmt.Name, workload.Name)
	supAPIPort, err := freePort()
	if err != nil {
		return err
	}
	conPort, err := freePort()
	if err != nil {
		return err
	}
	proxyPort, err := freePort()
	if err != nil {
		return err
	}
	if err := d.install(ctx, mgmt.Kubeconfig, "supervisor", supAPIPort, false); err != nil {
		return err
	}
	if err := d.install(ctx, workload.Kubeconfig, "concierge", conPort, false); err != nil {
		return err
	}

	d.say("Mint TokenRequest tokens for ServiceAccounts %s/selkie-supervisor and %s/selkie-concierge", supervisorNS, conciergeNS)
	supKubeconfig, err := d.serviceAccountKubeconfig(ctx, mgmt.Kubeconfig, supervisorNS, "selkie-supervisor")
	if err != nil {
		return err
	}
	conKubeconfig, err := d.serviceAccountKubeconfig(ctx, workload.Kubeconfig, conciergeNS, "selkie-concierge")
	if err != nil {
		return err
	}
	for _, k := range []string{supKubeconfig, conKubeconfig} {
		out, err := d.kubectl(ctx, k, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
		if err != nil {
			return err
		}
		fmt.Printf("    %s: %s\n", k, out)
	}

	d.say("Run selkie-supervisor as system:serviceaccount:%s:selkie-supervisor on https://%s (API on 127.0.0.1:%d)", supervisorNS, e.SupervisorAddr, supAPIPort)
	supCA, err := certauthority.New("selkie-demo-supervisor-ca", 7*24*time.Hour)
	if err != nil {
		return err
	}
	kp, err := supCA.IssueServingCert([]string{"127.0.0.1"}, 7*24*time.Hour)
	if err != nil {
		return err
	}
	certFile, keyFile, caFile := filepath.Join(d.dir, "supervisor-tls.crt"), filepath.Join(d.dir, "supervisor-tls.key"), filepath.Join(d.dir, "supervisor-ca.crt")
	for f, data := range map[string][]byte{certFile: kp.CertPEM, keyFile: kp.KeyPEM, caFile: supCA.CertPEM()} {
		if err := os.WriteFile(f, data, 0o600); err != nil {
			return err
		}
	}
	sup, err := d.start("selkie-supervisor", "serve", "--kubeconfig", supKubeconfig, "--namespace", supervisorNS,
		"--https-address", e.SupervisorAddr, "--tls-cert-file", certFile, "--tls-key-file", keyFile,
		"--api-bind-address", "127.0.0.1", "--api-port", strconv.Itoa(supAPIPort), "--api-cert-dir", filepath.Join(d.dir, "supervisor-api-certs"))
	if err != nil {
		return err
	}
	if err := waitHealthy(ctx, sup, "https://"+e.SupervisorAddr+"/healthz"); err != nil {
		return err
	}
	if err := waitHealthy(ctx, sup, "https://127.0.0.1:"+strconv.Itoa(supAPIPort)+"/healthz"); err != nil {
		return err
	}
	if err := d.install(ctx, mgmt.Kubeconfig, "supervisor", supAPIPort, true); err != nil {
		return err
	}

	d.say("Run selkie-concierge as system:serviceaccount:%s:selkie-concierge on 127.0.0.1:%d (cluster signing key strategy; impersonation proxy on :%d)", conciergeNS, conPort, proxyPort)
	con, err := d.start("selkie-concierge", "serve", "--kubeconfig", conKubeconfig, "--namespace", conciergeNS,
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(conPort), "--cert-dir", filepath.Join(d.dir, "concierge-certs"),
		"--cluster-signing-cert-file", workload.ClusterCACert, "--cluster-signing-key-file", workload.ClusterCAKey,
		// The impersonation proxy runs too (mode auto and no control-plane nodes), so its
		// RBAC is exercised; its LoadBalancer Service never gets an address here.
		"--impersonation-proxy-port", strconv.Itoa(proxyPort))
	if err != nil {
		return err
	}
	if err := waitHealthy(ctx, con, "https://127.0.0.1:"+strconv.Itoa(conPort)+"/healthz"); err != nil {
		return err
	}
	if err := d.install(ctx, workload.Kubeconfig, "concierge", conPort, true); err != nil {
		return err
	}

	d.say("Create FederationDomain https://%s/demo with Dex (OIDCIdentityProvider) and LDAP (LDAPIdentityProvider)", e.SupervisorAddr)
	issuer := "https://" + e.SupervisorAddr + "/demo"
	if err := d.apply(ctx, mgmt.Kubeconfig, "federationdomain.yaml", d.supervisorObjects(issuer)); err != nil {
		return err
	}
	for _, obj := range []string{"oidcidentityprovider/dex", "ldapidentityprovider/ldap", "federationdomain/demo"} {
		if err := d.kubectlWait(ctx, mgmt.Kubeconfig, supervisorNS, obj, "jsonpath={.status.phase}=Ready"); err != nil {
			return err
		}
	}

	d.say("Create JWTAuthenticator trusting %s (audience %s) and let Dex group %q list namespaces on %s", issuer, audience, group, workload.Name)
	if err := d.apply(ctx, workload.Kubeconfig, "workload.yaml", workloadObjects(issuer, supCA.CertPEM())); err != nil {
		return err
	}
	if err := d.kubectlWait(ctx, workload.Kubeconfig, "", "jwtauthenticator/demo", "jsonpath={.status.phase}=Ready"); err != nil {
		return err
	}

	d.say("selkie get kubeconfig --kubeconfig %s (password flow for Dex, browser flow, LDAP)", workload.Kubeconfig)
	kubeconfig := filepath.Join(d.dir, "kubeconfig")
	browserKubeconfig := filepath.Join(d.dir, "kubeconfig-browser")
	ldapKubeconfig := filepath.Join(d.dir, "kubeconfig-ldap")
	for _, k := range []struct{ out, idp, flow string }{
		{kubeconfig, "dex", "cli_password"}, {browserKubeconfig, "dex", "browser_authcode"}, {ldapKubeconfig, "ldap", "cli_password"},
	} {
		args := []string{"get", "kubeconfig", "--kubeconfig", workload.Kubeconfig,
			"--oidc-session-cache", k.out + "-sessions.yaml", "--credential-cache", k.out + "-credentials.yaml",
			"--upstream-identity-provider-name", k.idp, "--upstream-identity-provider-flow", k.flow, "-o", k.out,
			// The impersonation proxy waits forever for a LoadBalancer address here (there
			// is no cloud provider); the signing key strategy is ready, so do not wait.
			"--concierge-skip-wait", "--timeout", "2m"}
		fmt.Printf("    selkie %s\n", strings.Join(args, " "))
		if out, err := exec.CommandContext(ctx, filepath.Join(d.bin, "selkie"), args...).CombinedOutput(); err != nil {
			return fmt.Errorf("selkie get kubeconfig: %v\n%s", err, out)
		}
	}

	pinny, _ := e.User("pinny")
	d.say("kubectl --kubeconfig %s get ns   (as %s through Dex, PINNIPED_USERNAME/PINNIPED_PASSWORD)", kubeconfig, pinny.Email)
	out, err := d.runCreds(ctx, []string{"PINNIPED_USERNAME=" + pinny.Email, "PINNIPED_PASSWORD=" + pinny.Password},
		e.Kubectl, "--kubeconfig", kubeconfig, "get", "ns")
	if err != nil {
		return fmt.Errorf("kubectl get ns through Selkie: %w", err)
	}
	fmt.Print(indent(out))
	out, err = d.runCreds(ctx, nil, filepath.Join(d.bin, "selkie"), "whoami", "--kubeconfig", kubeconfig)
	if err != nil {
		return fmt.Errorf("selkie whoami: %w", err)
	}
	fmt.Print(indent(out))

	d.say("selkie whoami --kubeconfig %s   (as %s through LDAP)", ldapKubeconfig, pinny.Username)
	out, err = d.runCreds(ctx, []string{"PINNIPED_USERNAME=" + pinny.Username, "PINNIPED_PASSWORD=" + pinny.Password},
		filepath.Join(d.bin, "selkie"), "whoami", "--kubeconfig", ldapKubeconfig)
	if err != nil {
		return fmt.Errorf("selkie whoami through LDAP: %w", err)
	}
	fmt.Print(indent(out))

	d.say("Check the servers' logs for RBAC denials of the ServiceAccounts")
	denials := 0
	for _, s := range []*server{sup, con} {
		for _, line := range forbiddenLines(s.log) {
			denials++
			fmt.Printf("    %s: %s\n", s.name, line)
		}
	}
	if denials == 0 {
		fmt.Println("    none: the RBAC in deploy/manifests was sufficient for everything above")
	}

	d.say("Log in yourself")
	var users strings.Builder
	for _, u := range e.Users {
		fmt.Fprintf(&users, "      %-6s Dex: %-18s LDAP: %-6s password: %s  groups: %s\n", u.Username, u.Email, u.Username, u.Password, strings.Join(u.Groups, ","))
	}
	fmt.Printf(`    Users (same password in Dex and LDAP):
%s    Password flow:  kubectl --kubeconfig %s get ns
                    (prompts for the Dex username and password; LDAP: %s)
    Browser flow:   kubectl --kubeconfig %s get ns
                    (opens the supervisor's login page and its Dex/LDAP chooser; generated with
                    selkie get kubeconfig --upstream-identity-provider-flow browser_authcode;
                    add --oidc-skip-browser there to print the URL instead)
    The browser must trust the demo CAs: supervisor %s, Dex %s.
    Sessions are cached next to each kubeconfig (<kubeconfig>-sessions.yaml); remove it to log in again.
`, users.String(), kubeconfig, ldapKubeconfig, browserKubeconfig, caFile, e.CABundle)
	if os.Getenv("DEMO_KEEP") != "1" {
		fmt.Println("    (These work while the demo runs: use DEMO_KEEP=1 make demo to keep it running.)")
	}
	return nil
}

// install applies one component's manifests in file order: everything but the
// Deployment and the APIServices first (waiting for the CRDs), or with apiServices set
// only the APIServices, pointing at port, then waits until they are Available.
func (d *demo) install(ctx context.Context, kubeconfig, component string, port int, apiServices bool) error {
	files := []string{
		filepath.Join(d.repo, "deploy", "manifests", component+"-crds.yaml"),
		filepath.Join(d.repo, "deploy", "manifests", component+".yaml"),
	}
	var apiServiceNames []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var docs []string
		for _, doc := range strings.Split("\n"+string(data), "\n---\n") {
			obj := map[string]any{}
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			kind, _ := obj["kind"].(string)
			switch {
			case kind == "" || kind == "Deployment":
				continue // the servers run on loopback
			case (kind == "APIService") != apiServices:
				continue
			case kind == "Service":
				// The aggregator reaches an ExternalName Service at externalName:port.
				obj["spec"] = map[string]any{"type": "ExternalName", "externalName": "localhost"}
			case kind == "APIService":
				spec := obj["spec"].(map[string]any)
				spec["service"].(map[string]any)["port"] = port
				apiServiceNames = append(apiServiceNames, "apiservice/"+obj["metadata"].(map[string]any)["name"].(string))
			}
			out, err := yaml.Marshal(obj)
			if err != nil {
				return err
			}
			docs = append(docs, string(out))
		}
		if len(docs) == 0 {
			continue
		}
		name := filepath.Base(f)
		fmt.Printf("    kubectl apply -f deploy/manifests/%s (%d objects)\n", filepath.Base(f), len(docs))
		if err := d.apply(ctx, kubeconfig, name, strings.Join(docs, "---\n")); err != nil {
			return err
		}
		if strings.Contains(f, "crds") {
			if _, err := d.kubectl(ctx, kubeconfig, "wait", "--for=condition=Established", "--timeout=60s", "-f", filepath.Join(d.dir, name)); err != nil {
				return err
			}
		}
	}
	for _, a := range apiServiceNames {
		if err := d.kubectlWait(ctx, kubeconfig, "", a, "condition=Available"); err != nil {
			return err
		}
	}
	return nil
}

func (d *demo) apply(ctx context.Context, kubeconfig, name, manifest string) error {
	path := filepath.Join(d.dir, name)
	if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
		return err
	}
	_, err := d.kubectl(ctx, kubeconfig, "apply", "-f", path)
	return err
}

func (d *demo) kubectlWait(ctx context.Context, kubeconfig, ns, obj, cond string) error {
	args := []string{"wait", "--for=" + cond, "--timeout=90s", obj}
	if ns != "" {
		args = append(args, "-n", ns)
	}
	_, err := d.kubectl(ctx, kubeconfig, args...)
	if err == nil {
		fmt.Printf("    %s: %s\n", obj, strings.TrimPrefix(cond, "jsonpath={.status.phase}="))
	}
	return err
}

func (d *demo) kubectl(ctx context.Context, kubeconfig string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, d.e.Kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, d.logTails())
	}
	return string(out), nil
}

// runCreds runs a command with extra environment variables, returning its stdout (and
// its stderr with the error).
func (d *demo) runCreds(ctx context.Context, extraEnv []string, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %v\n%s%s%s", filepath.Base(bin), strings.Join(args, " "), err, stdout.String(), stderr.String(), d.logTails())
	}
	return stdout.String(), nil
}

// serviceAccountKubeconfig writes a kubeconfig for the ServiceAccount: the admin
// kubeconfig's cluster (server and CA) with a TokenRequest bearer token.
func (d *demo) serviceAccountKubeconfig(ctx context.Context, adminKubeconfig, ns, name string) (string, error) {
	admin, err := clientcmd.LoadFromFile(adminKubeconfig)
	if err != nil {
		return "", err
	}
	restConfig, err := clientcmd.NewDefaultClientConfig(*admin, nil).ClientConfig()
	if err != nil {
		return "", err
	}
	kube, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return "", err
	}
	expiry := int64((24 * time.Hour).Seconds())
	tr, err := kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("TokenRequest for %s/%s: %w", ns, name, err)
	}
	cluster := admin.Clusters[admin.Contexts[admin.CurrentContext].Cluster]
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["cluster"] = cluster
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: name, Namespace: ns}
	cfg.CurrentContext = name
	path := filepath.Join(d.dir, name+".kubeconfig")
	return path, clientcmd.WriteToFile(*cfg, path)
}

func (d *demo) supervisorObjects(issuer string) string {
	e := d.e
	caPEM, err := os.ReadFile(e.CABundle)
	if err != nil {
		panic(err)
	}
	ca := base64.StdEncoding.EncodeToString(caPEM)
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: dex-client, namespace: %[1]s}
type: secrets.selkie.dev/oidc-client
stringData: {clientID: %[2]q, clientSecret: %[3]q}
---
apiVersion: idp.supervisor.selkie.dev/v1alpha1
kind: OIDCIdentityProvider
metadata: {name: dex, namespace: %[1]s}
spec:
  issuer: %[4]q
  tls: {certificateAuthorityData: %[5]q}
  authorizationConfig:
    allowPasswordGrant: true
    additionalScopes: [openid, offline_access, email, profile, groups]
    additionalAuthorizeParameters: [{name: connector_id, value: local}]
  claims: {username: email, groups: groups}
  client: {secretName: dex-client}
---
apiVersion: v1
kind: Secret
metadata: {name: ldap-bind, namespace: %[1]s}
type: kubernetes.io/basic-auth
stringData: {username: %[6]q, password: %[7]q}
---
apiVersion: idp.supervisor.selkie.dev/v1alpha1
kind: LDAPIdentityProvider
metadata: {name: ldap, namespace: %[1]s}
spec:
  host: %[8]q
  tls: {certificateAuthorityData: %[5]q}
  bind: {secretName: ldap-bind}
  userSearch:
    base: %[9]q
    filter: "uid={}"
    attributes: {username: uid, uid: uidNumber}
  groupSearch:
    base: %[10]q
    filter: "(&(objectClass=posixGroup)(memberUid={}))"
    userAttributeForFilter: uid
    attributes: {groupName: cn}
---
apiVersion: config.supervisor.selkie.dev/v1alpha1
kind: FederationDomain
metadata: {name: demo, namespace: %[1]s}
spec:
  issuer: %[11]q
  identityProviders:
  - displayName: dex
    objectRef: {apiGroup: idp.supervisor.selkie.dev, kind: OIDCIdentityProvider, name: dex}
  - displayName: ldap
    objectRef: {apiGroup: idp.supervisor.selkie.dev, kind: LDAPIdentityProvider, name: ldap}
`, supervisorNS, e.Info.Dex.ClientID, e.Info.Dex.ClientSecret, e.Info.Dex.Issuer, ca, e.Info.LDAP.BindDN, e.Info.LDAP.BindPassword,
		e.Info.LDAP.LDAPSAddr, e.Info.LDAP.UsersDN, e.Info.LDAP.GroupsDN, issuer)
}

func workloadObjects(issuer string, supervisorCA []byte) string {
	return fmt.Sprintf(`apiVersion: authentication.concierge.selkie.dev/v1alpha1
kind: JWTAuthenticator
metadata: {name: demo}
spec:
  issuer: %[1]q
  audience: %[2]s
  claims: {username: username, groups: groups}
  tls: {certificateAuthorityData: %[3]q}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: demo-namespace-reader}
rules:
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: demo-namespace-reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: demo-namespace-reader}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: %[4]q}
`, issuer, audience, base64.StdEncoding.EncodeToString(supervisorCA), group)
}

// start runs bin/<name> with its output in dir/<name>.log; it gets SIGKILL if we die.
func (d *demo) start(name string, args ...string) (*server, error) {
	s := &server{name: name, log: filepath.Join(d.dir, name+".log"), done: make(chan struct{})}
	logFile, err := os.Create(s.log)
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(filepath.Join(d.bin, name), args...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); logFile.Close(); close(s.done) }()
	d.procs = append(d.procs, s)
	fmt.Printf("    pid %d, log %s\n", s.cmd.Process.Pid, s.log)
	return s, nil
}

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// stopAll stops our servers by PID (SIGTERM, then SIGKILL after 10 s), then the environment.
func (d *demo) stopAll() {
	if len(d.procs) > 0 || d.e != nil {
		fmt.Println("\n==> Stop everything the demo started")
	}
	for i := len(d.procs) - 1; i >= 0; i-- {
		s := d.procs[i]
		fmt.Printf("    %s (pid %d)\n", s.name, s.cmd.Process.Pid)
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	if d.e != nil {
		var pids []string
		for _, p := range d.e.Processes() {
			pids = append(pids, strconv.Itoa(p.PID()))
		}
		fmt.Printf("    environment (pids %s)\n", strings.Join(pids, " "))
		d.e.Close()
	}
}

// hold waits for Ctrl-C, failing if a process ends on its own.
func (d *demo) hold(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if p := d.e.Exited(); p != nil {
				return fmt.Errorf("%s (pid %d) exited on its own; see %s", p.Name, p.PID(), p.LogFile)
			}
			for _, s := range d.procs {
				if s.exited() {
					return fmt.Errorf("%s exited on its own; see %s", s.name, s.log)
				}
			}
		}
	}
}

func (d *demo) logTails() string {
	var b strings.Builder
	for _, s := range d.procs {
		fmt.Fprintf(&b, "\n--- last lines of %s ---\n%s", s.log, tail(s.log, 15))
	}
	return b.String()
}

func waitHealthy(ctx context.Context, s *server, url string) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // readiness probe of our own process
	}}
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if s.exited() || time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer %s (%v); its log:\n%s", s.name, url, err, tail(s.log, 30))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// forbiddenLines are the log lines reporting an RBAC denial.
func forbiddenLines(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "forbidden") {
			lines = append(lines, sc.Text())
		}
	}
	return lines
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
