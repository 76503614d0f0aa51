//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	conciergeclient "github.com/selkie-dev/selkie/generated/client/concierge/clientset/versioned"
	conciergeauthv1alpha1 "github.com/selkie-dev/selkie/generated/client/concierge/clientset/versioned/typed/authentication/v1alpha1"
	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
)

// cliBinary is the selkie CLI that TestMain built.
func cliBinary(testing.TB) string { return selkieBins.cli }

// loginFixture is a supervisor federating Dex (fd1) and the concierge of workload
// cluster 1 trusting it for one audience, with the group "seals" allowed to list
// namespaces there.
type loginFixture struct {
	s             *supervisor
	cluster       int
	audience      string
	authenticator string
}

func newLoginFixture(t *testing.T) *loginFixture {
	t.Helper()
	s := startSupervisor(t)
	manifest := dexIdPYAML(s.namespace, "dex", true) + "---\n" + federationDomainYAML(s.namespace, "fd1", s.issuer("/fd1"), "dex")
	if err := applyYAML(testEnv.Management().Kubeconfig, manifest); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the FederationDomain is served", func() (bool, error) {
		var doc map[string]any
		err := s.getJSON(s.issuer("/fd1")+"/v1alpha1/pinniped_identity_providers", &doc)
		return err == nil, err
	})
	sharedConcierge(t)
	f := &loginFixture{s: s, cluster: 1, audience: fmt.Sprintf("cluster-1-%d", time.Now().UnixNano())}
	f.authenticator = createSupervisorJWTAuthenticator(t, f.cluster, s.issuer("/fd1"), f.audience, s.caPEM)
	grantGroupNamespaceList(t, f.cluster, "seals")
	return f
}

// createSupervisorJWTAuthenticator trusts the supervisor's issuer for one audience.
func createSupervisorJWTAuthenticator(t testing.TB, cluster int, issuer, audience string, caPEM []byte) string {
	t.Helper()
	return createSupervisorJWTAuthenticatorIn(t, testEnv.Clusters[cluster].Kubeconfig, issuer, audience, caPEM)
}

// createSupervisorJWTAuthenticatorIn does it on the cluster of an admin kubeconfig; edits
// change the spec first.
func createSupervisorJWTAuthenticatorIn(t testing.TB, kubeconfig, issuer, audience string, caPEM []byte, edits ...func(*authenticationv1alpha1.JWTAuthenticatorSpec)) string {
	t.Helper()
	ctx := testContext(t)
	client := conciergeclient.NewForConfigOrDie(adminConfig(t, kubeconfig)).AuthenticationV1alpha1().JWTAuthenticators()
	spec := authenticationv1alpha1.JWTAuthenticatorSpec{Issuer: issuer, Audience: audience,
		Claims: authenticationv1alpha1.JWTTokenClaims{Username: "username", Groups: "groups"},
		TLS:    &authenticationv1alpha1.TLSSpec{CertificateAuthorityData: base64.StdEncoding.EncodeToString(caPEM)}}
	for _, edit := range edits {
		edit(&spec)
	}
	ja, err := client.Create(ctx, &authenticationv1alpha1.JWTAuthenticator{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "supervisor-"}, Spec: spec,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Delete(context.Background(), ja.Name, metav1.DeleteOptions{}) })
	waitJWTAuthenticatorReady(t, client, ja.Name)
	return ja.Name
}

// waitJWTAuthenticatorReady waits up to 30 seconds for the JWTAuthenticator to be Ready.
func waitJWTAuthenticatorReady(t testing.TB, client conciergeauthv1alpha1.JWTAuthenticatorInterface, name string) {
	t.Helper()
	eventually(t, 30*time.Second, "JWTAuthenticator "+name+" Ready", func() (bool, error) {
		got, err := client.Get(testContext(t), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return got.Status.Phase == authenticationv1alpha1.JWTAuthenticatorPhaseReady, fmt.Errorf("phase %q %+v", got.Status.Phase, got.Status.Conditions)
	})
}

func grantGroupNamespaceList(t testing.TB, cluster int, group string) {
	t.Helper()
	grantGroupNamespaceListIn(t, testEnv.Clusters[cluster].Kubeconfig, group)
}

// grantGroupNamespaceListIn lets group list namespaces in the cluster of kubeconfig
// until the test ends.
func grantGroupNamespaceListIn(t testing.TB, kubeconfig, group string) {
	t.Helper()
	ctx := testContext(t)
	kube := kubernetes.NewForConfigOrDie(adminConfig(t, kubeconfig))
	name := "list-namespaces-" + strings.ReplaceAll(group, "/", "-")
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list"}}}}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: group}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}}
	_, _ = kube.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{})
	_, _ = kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{})
	// Other tests expect these users to have no access on this cluster.
	t.Cleanup(func() {
		_ = kube.RbacV1().ClusterRoleBindings().Delete(context.Background(), name, metav1.DeleteOptions{})
		_ = kube.RbacV1().ClusterRoles().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// execKubeconfig writes a kubeconfig for workload cluster f.cluster whose user runs
// `selkie login oidc` in the exec layout of docs/wire-contract.md §3.2.
func (f *loginFixture) execKubeconfig(t *testing.T, dir string, extraArgs ...string) string {
	t.Helper()
	cl := testEnv.Clusters[f.cluster]
	admin, err := clientcmd.LoadFromFile(cl.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var caData []byte
	for _, c := range admin.Clusters {
		caData = c.CertificateAuthorityData
		if len(caData) == 0 && c.CertificateAuthority != "" {
			if caData, err = os.ReadFile(c.CertificateAuthority); err != nil {
				t.Fatal(err)
			}
		}
	}
	args := []string{"login", "oidc", "--enable-concierge", "--concierge-api-group-suffix=selkie.dev",
		"--concierge-authenticator-name=" + f.authenticator, "--concierge-authenticator-type=jwt",
		"--concierge-endpoint=" + cl.APIURL, "--concierge-ca-bundle-data=" + base64.StdEncoding.EncodeToString(caData),
		"--credential-cache=" + filepath.Join(dir, "credentials.yaml"), "--issuer=" + f.s.issuer("/fd1"), "--client-id=pinniped-cli",
		"--scopes=offline_access,openid,pinniped:request-audience,username,groups",
		"--ca-bundle-data=" + base64.StdEncoding.EncodeToString(f.s.caPEM), "--session-cache=" + filepath.Join(dir, "sessions.yaml"),
		"--request-audience=" + f.audience, "--upstream-identity-provider-name=dex", "--upstream-identity-provider-type=oidc"}
	args = append(args, extraArgs...)
	var quoted []string
	for _, a := range args {
		quoted = append(quoted, fmt.Sprintf("%q", a))
	}
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: workload
  cluster: {server: %q, certificate-authority-data: %q}
users:
- name: selkie
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: %q
      args: [%s]
      interactiveMode: Never
      provideClusterInfo: true
contexts:
- name: workload-selkie
  context: {cluster: workload, user: selkie}
current-context: workload-selkie
`, cl.APIURL, base64.StdEncoding.EncodeToString(caData), cliBinary(t), strings.Join(quoted, ", "))
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// run runs a command with extra environment variables and no terminal.
func runWithEnv(t testing.TB, env []string, name string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.Stdin = nil
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// TestCLIPasswordLoginThroughConcierge is kubectl with a kubeconfig whose user is
// `selkie login oidc` (password flow from environment variables): the supervisor logs
// the user in at Dex, exchanges the token for the cluster's audience, the concierge
// turns it into a certificate, and RBAC follows the Dex groups.
func TestCLIPasswordLoginThroughConcierge(t *testing.T) {
	f := newLoginFixture(t)
	pinny, wally := testEnv.Users[0], testEnv.Users[1]
	dir := t.TempDir()
	kubeconfig := f.execKubeconfig(t, dir, "--upstream-identity-provider-flow=cli_password")
	creds := []string{"PINNIPED_USERNAME=" + pinny.Email, "PINNIPED_PASSWORD=" + pinny.Password}
	start := time.Now()
	out, errOut, err := runWithEnv(t, creds, testEnv.Kubectl, "--kubeconfig", kubeconfig, "get", "namespaces", "-o", "name")
	if err != nil || !strings.Contains(out, "namespace/kube-system") {
		t.Fatalf("kubectl get namespaces as %s: %v\n%s\n%s", pinny.Email, err, out, errOut)
	}
	t.Logf("first kubectl call (login, exchange, certificate): %s", time.Since(start).Round(time.Millisecond))
	for _, file := range []string{"sessions.yaml", "credentials.yaml"} {
		fi, err := os.Stat(filepath.Join(dir, file))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v mode %v, want 0600", file, err, fi)
		}
	}
	start = time.Now()
	if _, errOut, err := runWithEnv(t, nil, testEnv.Kubectl, "--kubeconfig", kubeconfig, "get", "namespaces"); err != nil {
		t.Fatalf("second call (cached, no password in the environment): %v\n%s", err, errOut)
	}
	t.Logf("second kubectl call (credential cache): %s", time.Since(start).Round(time.Millisecond))
	out, errOut, err = runWithEnv(t, nil, cliBinary(t), "whoami", "--kubeconfig", kubeconfig, "--api-group-suffix", "selkie.dev")
	if err != nil || !strings.Contains(out, "Username: "+pinny.Email) || !strings.Contains(out, "Groups: seals, seals/admins") {
		t.Errorf("whoami: %v\n%s\n%s", err, out, errOut)
	}

	// Logout revokes the session at the supervisor and empties both cache entries, so
	// the next call needs a login again.
	sessionsBefore := countSessions(t, f.s.namespace)
	out, errOut, err = runWithEnv(t, nil, cliBinary(t), "logout", "--kubeconfig", kubeconfig)
	if err != nil || !strings.Contains(errOut, "revoked the session") {
		t.Errorf("logout: %v\n%s\n%s", err, out, errOut)
	}
	if after := countSessions(t, f.s.namespace); after != sessionsBefore-1 {
		t.Errorf("sessions at the supervisor: %d before logout, %d after, want one fewer", sessionsBefore, after)
	}
	if _, errOut, err := runWithEnv(t, nil, testEnv.Kubectl, "--kubeconfig", kubeconfig, "get", "namespaces"); err == nil {
		t.Errorf("kubectl worked after logout without credentials:\n%s", errOut)
	}

	wallyDir := t.TempDir()
	wallyConfig := f.execKubeconfig(t, wallyDir, "--upstream-identity-provider-flow=cli_password")
	_, errOut, err = runWithEnv(t, []string{"PINNIPED_USERNAME=" + wally.Email, "PINNIPED_PASSWORD=" + wally.Password},
		testEnv.Kubectl, "--kubeconfig", wallyConfig, "get", "namespaces")
	if err == nil || !strings.Contains(errOut, "Forbidden") || !strings.Contains(errOut, wally.Email) {
		t.Errorf("wally (not in seals) listed namespaces: %v\n%s", err, errOut)
	}
	_, errOut, err = runWithEnv(t, []string{"PINNIPED_USERNAME=" + pinny.Email, "PINNIPED_PASSWORD=wrong"},
		testEnv.Kubectl, "--kubeconfig", f.execKubeconfig(t, t.TempDir(), "--upstream-identity-provider-flow=cli_password"), "get", "namespaces")
	if err == nil || !strings.Contains(errOut, "access_denied") {
		t.Errorf("a wrong password: %v\n%s", err, errOut)
	}
}

// countSessions counts the supervisor's session Secrets.
func countSessions(t *testing.T, namespace string) int {
	t.Helper()
	kube := kubernetes.NewForConfigOrDie(adminConfig(t, testEnv.Management().Kubeconfig))
	list, err := kube.CoreV1().Secrets(namespace).List(testContext(t), metav1.ListOptions{LabelSelector: "storage.selkie.dev/type=session"})
	if err != nil {
		t.Fatal(err)
	}
	return len(list.Items)
}
