// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	conciergeclient "github.com/selkie-dev/selkie/generated/client/concierge/clientset/versioned"
	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/apis/suffix"
	"github.com/selkie-dev/selkie/pkg/concierge/controller/credentialissuer"
	"github.com/selkie-dev/selkie/test/env"
	"github.com/selkie-dev/selkie/test/env/demo"
)

// installNamespaces are the namespaces every install method creates, one per component.
var installNamespaces = []string{demo.SupervisorNamespace, demo.ConciergeNamespace}

// installMethod installs both components on one cluster, and removes them again, the way
// docs/install.md tells a user to.
type installMethod struct {
	name      string
	install   func(t *testing.T, i *installRun)
	uninstall func(t *testing.T, i *installRun)
}

// installRun is one cluster with the Selkie image on its node.
type installRun struct {
	ctx        context.Context
	dir        string
	kubeconfig string
	kube       kubernetes.Interface
	audit      string
}

// TestInClusterInstall installs Selkie from its image into a cluster with a real node by
// each documented method: kubectl apply -f deploy/manifests/, the Carvel templates
// rendered by ytt with a values file, and helm install with a values file. Each install
// must bring every pod Ready in namespaces that enforce PodSecurity "restricted", make
// the aggregated APIs available and the CredentialIssuer appear, and cause no RBAC
// denial in the audit log; its uninstall must leave nothing of Selkie in the cluster.
func TestInClusterInstall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	dir := t.TempDir()
	images := filepath.Join(dir, "images", "selkie.tar")
	start := time.Now()
	if err := env.BuildTestImages(ctx, images, "install-test", demo.Image); err != nil {
		t.Fatal(err)
	}
	t.Logf("image built in %s", time.Since(start).Round(time.Millisecond))
	var progress bytes.Buffer
	e, err := env.Start(ctx, env.Options{Dir: filepath.Join(dir, "env"), AuditLog: true, Images: []string{images}, Progress: &progress})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	t.Cleanup(e.Close)
	cp := e.ControlPlanes[0]
	run := &installRun{ctx: ctx, dir: dir, kubeconfig: cp.AdminKubeconfig,
		kube: kubernetes.NewForConfigOrDie(adminConfig(t, cp.AdminKubeconfig)), audit: cp.AuditLog}

	for _, m := range []installMethod{
		{name: "Manifests", install: installManifests, uninstall: uninstallManifests},
		{name: "Carvel", install: installCarvel, uninstall: uninstallCarvel},
		{name: "Helm", install: installHelm, uninstall: uninstallHelm},
	} {
		t.Run(m.name, func(t *testing.T) {
			before, err := readAudit(run.audit)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			m.install(t, run)
			run.checkInstalled(t)
			t.Logf("installed, every pod Ready and the APIs available in %s", time.Since(start).Round(time.Millisecond))
			if m.name == "Helm" {
				helmUpgrade(t, run)
			}
			run.checkNoDenials(t, len(before))
			start = time.Now()
			m.uninstall(t, run)
			run.checkNothingLeft(t)
			t.Logf("uninstalled, nothing left, in %s", time.Since(start).Round(time.Millisecond))
		})
	}
}

func repoPath(elem ...string) string {
	return filepath.Join(append([]string{"..", ".."}, elem...)...)
}

func installManifests(t *testing.T, i *installRun) {
	mustKubectlWith(t, i.kubeconfig, "apply", "-f", repoPath("deploy", "manifests"))
}

func uninstallManifests(t *testing.T, i *installRun) {
	mustKubectlWith(t, i.kubeconfig, "delete", "--ignore-not-found", "--wait", "-f", repoPath("deploy", "manifests"))
}

// carvelValues are the data values files of the ytt install, per component.
func carvelValues() map[string]string {
	return map[string]string{
		"supervisor": fmt.Sprintf("image: %s\nimage_pull_policy: Never\nlog_level: debug\n", demo.Image),
		"concierge":  fmt.Sprintf("image: %s\nimage_pull_policy: Never\nimpersonation_proxy: {mode: enabled, service_type: ClusterIP}\n", demo.Image),
	}
}

// renderCarvel writes each component's ytt output to <dir>/carvel-<component>.yaml and
// returns the files.
func renderCarvel(t *testing.T, i *installRun) []string {
	t.Helper()
	ytt := filepath.Join(peerTool(t, "ytt"), "ytt")
	var files []string
	for _, c := range []string{"supervisor", "concierge"} {
		values := filepath.Join(i.dir, "carvel-values-"+c+".yaml")
		if err := os.WriteFile(values, []byte(carvelValues()[c]), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.CommandContext(i.ctx, ytt, "-f", repoPath("deploy", "carvel", c, "config"), "--data-values-file", values).Output()
		if err != nil {
			t.Fatalf("ytt %s: %v", c, err)
		}
		file := filepath.Join(i.dir, "carvel-"+c+".yaml")
		if err := os.WriteFile(file, out, 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, file)
	}
	return files
}

func installCarvel(t *testing.T, i *installRun) {
	args := []string{"apply"}
	for _, f := range renderCarvel(t, i) {
		args = append(args, "-f", f)
	}
	mustKubectlWith(t, i.kubeconfig, args...)
}

func uninstallCarvel(t *testing.T, i *installRun) {
	args := []string{"delete", "--ignore-not-found", "--wait"}
	for _, f := range renderCarvel(t, i) {
		args = append(args, "-f", f)
	}
	mustKubectlWith(t, i.kubeconfig, args...)
}

func installHelm(t *testing.T, i *installRun) {
	values := filepath.Join(i.dir, "helm-values.yaml")
	if err := os.WriteFile(values, []byte(fmt.Sprintf(`supervisor:
  image: %[1]s
  image_pull_policy: Never
  service: {type: LoadBalancer}
concierge:
  image: %[1]s
  image_pull_policy: Never
  strategies: {csr_signing: true}
`, demo.Image)), 0o600); err != nil {
		t.Fatal(err)
	}
	runHelm(t, i, "install", "selkie", repoPath("deploy", "helm", "selkie"), "--values", values, "--wait", "--timeout", "3m")
}

// helmUpgrade changes the impersonation proxy's values: the concierge applies the new
// CredentialIssuer spec and removes the proxy's Service.
func helmUpgrade(t *testing.T, i *installRun) {
	runHelm(t, i, "upgrade", "selkie", repoPath("deploy", "helm", "selkie"), "--reuse-values",
		"--set", "concierge.impersonation_proxy.mode=disabled", "--wait", "--timeout", "3m")
	ci := conciergeClient(t, i)
	eventually(t, 2*time.Minute, "the CredentialIssuer has the upgraded spec and the proxy's Service is gone", func() (bool, error) {
		obj, err := ci.ConfigV1alpha1().CredentialIssuers().Get(i.ctx, "selkie-concierge-config", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if mode := obj.Spec.ImpersonationProxy.Mode; mode != configv1alpha1.ImpersonationProxyModeDisabled {
			return false, fmt.Errorf("mode %s", mode)
		}
		_, err = i.kube.CoreV1().Services(demo.ConciergeNamespace).Get(i.ctx, "selkie-concierge-impersonation-proxy", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, fmt.Errorf("the proxy's Service still exists (%v)", err)
	})
}

func uninstallHelm(t *testing.T, i *installRun) {
	runHelm(t, i, "uninstall", "selkie", "--wait", "--timeout", "3m")
}

func runHelm(t *testing.T, i *installRun, args ...string) {
	t.Helper()
	if out, err := helmCommand(t, i.ctx, i.dir, i.kubeconfig, args...); err != nil {
		t.Fatalf("%v\n%s%s", err, out, podReport(t, i))
	}
}

// helmCommand runs the Helm binary hack/peer-bins.sh builds against kubeconfig, with
// Helm's own directories under dir.
func helmCommand(t *testing.T, ctx context.Context, dir, kubeconfig string, args ...string) (string, error) {
	t.Helper()
	args = append(args, "--kubeconfig", kubeconfig)
	cmd := exec.CommandContext(ctx, filepath.Join(peerTool(t, "helm"), "helm"), args...)
	home := filepath.Join(dir, "helm")
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("helm %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// peerTool returns the directory of a tool hack/peer-bins.sh builds: $SELKIE_<NAME>_BIN
// as hack/test-integration.sh exports it, else the script's answer.
func peerTool(t *testing.T, name string) string {
	t.Helper()
	key := "SELKIE_" + strings.ToUpper(name) + "_BIN"
	if dir := os.Getenv(key); dir != "" {
		return dir
	}
	out, err := exec.Command(repoPath("hack", "peer-bins.sh"), name).Output()
	if err != nil {
		t.Fatalf("hack/peer-bins.sh %s: %v", name, err)
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), key+"=")
}

func conciergeClient(t *testing.T, i *installRun) conciergeclient.Interface {
	t.Helper()
	c, err := conciergeclient.NewForConfig(suffix.WrapConfig(adminConfig(t, i.kubeconfig), "selkie.dev"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// podReport describes the Selkie pods and the end of their logs, for failures.
func podReport(t *testing.T, i *installRun) string {
	t.Helper()
	var b strings.Builder
	for _, ns := range installNamespaces {
		b.WriteString(demo.PodReport(i.ctx, testEnv.Kubectl, i.kubeconfig, ns))
	}
	return b.String()
}

// checkInstalled waits for both Deployments to be rolled out from the Selkie image with
// every pod Ready and never restarted, in namespaces that enforce "restricted", for the
// four APIServices to be Available and for the concierge to have created its
// CredentialIssuer from --credential-issuer-spec.
func (i *installRun) checkInstalled(t *testing.T) {
	t.Helper()
	for _, ns := range installNamespaces {
		if _, errOut, err := kubectlWith(t, i.kubeconfig, "-n", ns, "rollout", "status", "deployment/"+ns, "--timeout=3m"); err != nil {
			t.Fatalf("rollout of %s: %v\n%s%s", ns, err, errOut, podReport(t, i))
		}
		obj, err := i.kube.CoreV1().Namespaces().Get(i.ctx, ns, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := obj.Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
			t.Errorf("namespace %s enforces PodSecurity %q, want restricted", ns, got)
		}
		pods, err := i.kube.CoreV1().Pods(ns).List(i.ctx, metav1.ListOptions{LabelSelector: "app=" + ns})
		if err != nil {
			t.Fatal(err)
		}
		ready := 0
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil {
				continue
			}
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					t.Logf("pod %s/%s Ready %s after it was created", ns, p.Name, c.LastTransitionTime.Sub(p.CreationTimestamp.Time))
				}
			}
			for _, cs := range p.Status.ContainerStatuses {
				if cs.RestartCount > 0 {
					t.Errorf("pod %s/%s: container %s restarted %d times (a failing liveness probe or a crash)%s", ns, p.Name, cs.Name, cs.RestartCount, podReport(t, i))
				}
				if cs.Ready && strings.HasSuffix(cs.Image, "/"+demo.Image) && p.Status.Phase == corev1.PodRunning {
					ready++
				}
			}
		}
		if ready != 2 {
			t.Errorf("%s: %d Ready containers of %s, want 2%s", ns, ready, demo.Image, podReport(t, i))
		}
	}
	for _, api := range []string{"v1alpha1.login.concierge.selkie.dev", "v1alpha1.identity.concierge.selkie.dev",
		"v1alpha1.clientsecret.supervisor.selkie.dev", "v1alpha1.session.supervisor.selkie.dev"} {
		if _, errOut, err := kubectlWith(t, i.kubeconfig, "wait", "--for=condition=Available", "--timeout=2m", "apiservice/"+api); err != nil {
			t.Errorf("APIService %s: %v\n%s", api, err, errOut)
		}
	}
	// The concierge's aggregated API answers: the admin's own name through a WhoAmIRequest.
	whoami := filepath.Join(i.dir, "whoami.yaml")
	if err := os.WriteFile(whoami, []byte("apiVersion: identity.concierge.selkie.dev/v1alpha1\nkind: WhoAmIRequest\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := kubectlWith(t, i.kubeconfig, "create", "-f", whoami, "-o", "jsonpath={.status.kubernetesUserInfo.user.username}")
	if err != nil || strings.TrimSpace(out) == "" {
		t.Errorf("WhoAmIRequest through the concierge's pods: %q, %v\n%s", out, err, errOut)
	}
	for _, ns := range installNamespaces {
		i.checkMetrics(t, ns)
	}
	ci := conciergeClient(t, i)
	eventually(t, 2*time.Minute, "the concierge creates its CredentialIssuer with the configured spec", func() (bool, error) {
		obj, err := ci.ConfigV1alpha1().CredentialIssuers().Get(i.ctx, "selkie-concierge-config", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return obj.Annotations[credentialissuer.SpecHashAnnotation] != "" && len(obj.Status.Strategies) > 0,
			fmt.Errorf("annotations %v, strategies %+v", obj.Annotations, obj.Status.Strategies)
	})
}

// checkNoDenials fails on any request of Selkie's ServiceAccounts the API server
// refused (403) since the first skip entries of the audit log, and on pods' log lines
// reporting one.
func (i *installRun) checkNoDenials(t *testing.T, skip int) {
	t.Helper()
	reqs, err := readAudit(i.audit)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) <= skip {
		t.Fatalf("no request of Selkie's ServiceAccounts was audited (%d before the install, %d now)", skip, len(reqs))
	}
	for _, r := range reqs[skip:] {
		if r.Code == 403 {
			t.Errorf("denied: %s %s %s/%s %s/%s: %s", shortSA(r.SA), r.Verb, r.APIGroup, r.Resource, r.Namespace, r.Name, r.Message)
		}
	}
	t.Logf("%d requests of Selkie's ServiceAccounts audited, none denied", len(reqs)-skip)
	for _, ns := range installNamespaces {
		out, _, _ := kubectlWith(t, i.kubeconfig, "-n", ns, "logs", "--all-containers", "--prefix", "-l", "app="+ns)
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, "forbidden") {
				t.Errorf("a pod logged an RBAC denial: %s", line)
			}
		}
	}
}

// checkNothingLeft waits for the namespaces to be gone and then finds no object of
// Selkie's in the cluster: no CRD or APIService of a selkie.dev group, no cluster role
// or binding and no role or binding in kube-system or kube-public named selkie-*, and
// no Helm release Secret.
func (i *installRun) checkNothingLeft(t *testing.T) {
	t.Helper()
	eventually(t, 3*time.Minute, "the namespaces are deleted", func() (bool, error) {
		for _, ns := range installNamespaces {
			if _, err := i.kube.CoreV1().Namespaces().Get(i.ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return false, fmt.Errorf("namespace %s: %v", ns, err)
			}
		}
		return true, nil
	})
	var left []string
	for _, q := range []struct {
		args   []string
		prefix bool // names start with selkie- rather than end with .selkie.dev
	}{
		{args: []string{"get", "crd"}},
		{args: []string{"get", "apiservice"}},
		{args: []string{"get", "clusterrole"}, prefix: true},
		{args: []string{"get", "clusterrolebinding"}, prefix: true},
		{args: []string{"-n", "kube-system", "get", "role,rolebinding"}, prefix: true},
		{args: []string{"-n", "kube-public", "get", "role,rolebinding"}, prefix: true},
		{args: []string{"get", "secret", "-A", "-l", "owner=helm"}, prefix: true},
		{args: []string{"get", "validatingwebhookconfiguration,mutatingwebhookconfiguration"}, prefix: true},
	} {
		out, errOut, err := kubectlWith(t, i.kubeconfig, append(q.args, "-o", "name")...)
		if err != nil {
			t.Fatalf("kubectl %v: %v\n%s", q.args, err, errOut)
		}
		for _, name := range strings.Fields(out) {
			_, short, _ := strings.Cut(name, "/")
			if (q.prefix && strings.HasPrefix(short, "selkie")) || (!q.prefix && strings.HasSuffix(short, ".selkie.dev")) ||
				strings.HasPrefix(short, "sh.helm.release") {
				left = append(left, name)
			}
		}
	}
	if len(left) > 0 {
		t.Errorf("the uninstall left %v", left)
	}
}

// checkMetrics scrapes the pods of the component in namespace ns as a Prometheus in the
// cluster would (and as the optional ServiceMonitor says): through the API Service's
// metrics port, verifying the API serving certificate against the serving CA Secret,
// with the token of a ServiceAccount bound to the install's metrics-reader ClusterRole.
// A scrape without a token is refused. The binding is removed again, so that the
// uninstall check finds only what the install made.
func (i *installRun) checkMetrics(t *testing.T, ns string) {
	t.Helper()
	component := strings.TrimPrefix(ns, "selkie-")
	if _, err := i.kube.CoreV1().ServiceAccounts(ns).Create(i.ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "test-scraper"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "test-scraper-" + component},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ns + "-metrics-reader"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "test-scraper", Namespace: ns}}}
	if _, err := i.kube.RbacV1().ClusterRoleBindings().Create(i.ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := i.kube.RbacV1().ClusterRoleBindings().Delete(context.Background(), binding.Name, metav1.DeleteOptions{}); err != nil {
			t.Error(err)
		}
	}()
	tr, err := i.kube.CoreV1().ServiceAccounts(ns).CreateToken(i.ctx, "test-scraper", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := i.kube.CoreV1().Services(ns).Get(i.ctx, ns+"-api", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	servingCert, err := i.kube.CoreV1().Secrets(ns).Get(i.ctx, ns+"-api-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scraper := newMetricsScraper(net.JoinHostPort(svc.Spec.ClusterIP, "10251"), servingCert.Data["ca-bundle.crt"], ns+"-api."+ns+".svc")
	if status, _ := scraper.get(t, ""); status != http.StatusUnauthorized {
		t.Errorf("%s: a scrape without a token got %d, want 401", ns, status)
	}
	want := []string{"controller_runtime_reconcile_total{", "go_goroutines{", "process_resident_memory_bytes{"}
	if component == "supervisor" {
		want = append(want, "selkie_supervisor_sessions{")
	}
	eventually(t, time.Minute, ns+" pods serve their metrics to the scraper", func() (bool, error) {
		status, body := scraper.get(t, tr.Status.Token)
		if status != http.StatusOK {
			return false, fmt.Errorf("status %d: %.300s", status, body)
		}
		samples := scraper.samplesOf(t, body)
		for _, w := range want {
			found := false
			for s := range samples {
				found = found || strings.HasPrefix(s, w)
			}
			if !found {
				return false, fmt.Errorf("no %s… in the scrape", w)
			}
		}
		return true, nil
	})
}
