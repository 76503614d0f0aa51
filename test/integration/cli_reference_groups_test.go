//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/selkie-dev/selkie/test/env"
)

// TestCLIWithReferenceAPIGroups installs a concierge under the reference API groups
// (suffix pinniped.dev: CRDs, APIServices and the server) on a control plane of its
// own, and checks that the CLI, told the suffix with the contract's flags, generates a
// kubeconfig, logs kubectl in and answers whoami there. The reference binaries
// themselves cannot be built here (the module proxy refuses go.pinniped.dev), so this
// is the suffix half of "Pinniped compatibility both ways".
func TestCLIWithReferenceAPIGroups(t *testing.T) {
	f := newLoginFixture(t)
	ctx := testContext(t)
	bins, err := env.FindBinaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := env.StartControlPlane(ctx, bins, t.TempDir(), "reference-groups")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Close)
	kubeconfig := cp.AdminKubeconfig
	toReference := func(s string) string { return strings.ReplaceAll(s, "selkie.dev", "pinniped.dev") }
	crdDir := t.TempDir()
	files, _ := filepath.Glob(testEnvRepoFileNoT("generated/crds/*.yaml"))
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(crdDir, toReference(filepath.Base(file))), []byte(toReference(string(raw))), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, errOut, err := kubectlWith(t, kubeconfig, "apply", "--server-side", "-f", crdDir); err != nil {
		t.Fatalf("apply the reference-group CRDs: %v\n%s", err, errOut)
	}
	if _, errOut, err := kubectlWith(t, kubeconfig, "wait", "--for=condition=Established", "--timeout=60s",
		"crd/jwtauthenticators.authentication.concierge.pinniped.dev", "crd/credentialissuers.config.concierge.pinniped.dev"); err != nil {
		t.Fatalf("CRDs: %v\n%s", err, errOut)
	}
	port := freePort(t)
	install := strings.SplitN(toReference(conciergeInstallYAML(port)), "---\napiVersion: apiregistration.k8s.io/v1", 2)
	if err := applyYAML(kubeconfig, install[0]); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(t.TempDir(), "concierge.log")
	proc, err := startProcess(selkieBins.concierge, logFile, "serve",
		"--kubeconfig", kubeconfig, "--namespace", conciergeNamespace, "--bind-address", "127.0.0.1", "--secure-port", fmt.Sprint(port),
		"--api-group-suffix", "pinniped.dev", "--impersonation-proxy=false",
		"--cluster-signing-cert-file", cp.ClusterCA.CertFile, "--cluster-signing-key-file", cp.ClusterCA.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proc.Stop)
	dumpLog := func() string { data, _ := os.ReadFile(logFile); return string(data) }
	if err := waitHealthy(ctx, port); err != nil {
		t.Fatalf("concierge did not answer /healthz: %v\n%s", err, dumpLog())
	}
	if err := applyYAML(kubeconfig, "apiVersion: apiregistration.k8s.io/v1"+install[1]); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := kubectlWith(t, kubeconfig, "wait", "--for=condition=Available", "--timeout=60s",
		"apiservice/v1alpha1.login.concierge.pinniped.dev", "apiservice/v1alpha1.identity.concierge.pinniped.dev"); err != nil {
		t.Fatalf("APIServices: %v\n%s\n%s", err, errOut, dumpLog())
	}
	audience := fmt.Sprintf("reference-%d", time.Now().UnixNano())
	authenticator := fmt.Sprintf(`apiVersion: authentication.concierge.pinniped.dev/v1alpha1
kind: JWTAuthenticator
metadata: {name: supervisor}
spec:
  issuer: %q
  audience: %q
  claims: {username: username, groups: groups}
  tls: {certificateAuthorityData: %q}
`, f.s.issuer("/fd1"), audience, base64.StdEncoding.EncodeToString(f.s.caPEM))
	if err := applyYAML(kubeconfig, authenticator); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := kubectlWith(t, kubeconfig, "wait", "--for=jsonpath={.status.phase}=Ready", "--timeout=60s",
		"jwtauthenticator.authentication.concierge.pinniped.dev/supervisor"); err != nil {
		t.Fatalf("JWTAuthenticator: %v\n%s", err, errOut)
	}
	grantGroupNamespaceListIn(t, kubeconfig, "seals")
	// The CredentialIssuer is written by the elected leader once it holds the Lease.
	eventually(t, 60*time.Second, "the concierge reports its strategies under the reference group", func() (bool, error) {
		out, errOut, err := kubectlWith(t, kubeconfig, "get", "credentialissuer.config.concierge.pinniped.dev", "selkie-concierge-config",
			"-o", "jsonpath={.status.strategies[*].status}")
		return err == nil && strings.Contains(out, "Success"), fmt.Errorf("%v: %s %s", err, out, errOut)
	})

	generated, execArgs := getKubeconfig(t, t.TempDir(), "--kubeconfig", kubeconfig, "--concierge-api-group-suffix", "pinniped.dev")
	if !strings.Contains(strings.Join(execArgs, " "), "--concierge-api-group-suffix=pinniped.dev") {
		t.Errorf("exec args %q lack the reference suffix", execArgs)
	}
	pinny := testEnv.Users[0]
	out, errOut, err := runWithEnv(t, []string{"PINNIPED_USERNAME=" + pinny.Email, "PINNIPED_PASSWORD=" + pinny.Password},
		testEnv.Kubectl, "--kubeconfig", generated, "get", "namespaces", "-o", "name")
	if err != nil || !strings.Contains(out, "namespace/kube-system") {
		t.Fatalf("kubectl through the reference groups: %v\n%s\n%s", err, out, errOut)
	}
	out, errOut, err = runWithEnv(t, nil, cliBinary(t), "whoami", "--kubeconfig", generated, "--api-group-suffix", "pinniped.dev")
	if err != nil || !strings.Contains(out, "Username: "+pinny.Email) {
		t.Errorf("whoami with the reference suffix: %v\n%s\n%s", err, out, errOut)
	}
}
