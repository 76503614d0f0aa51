// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"strings"
	"testing"
)

// TestManifestsServerDryRun checks that the API server accepts every object of
// deploy/manifests, schema, admission and RBAC escalation checks included, without
// changing anything: kubectl apply --dry-run=server.
//
// Two things must exist first, as in a real install (docs/install.md): the CRDs, since
// kubectl maps the CredentialIssuer to its resource before sending anything (they are
// installed from generated/crds, which deploy/manifests' unit test keeps equal to
// <component>-crds.yaml), and the two namespaces, since namespaced objects cannot be created,
// even in a dry run, in a namespace that does not exist. Namespaces this test creates
// are left in place: other tests install into the same ones.
func TestManifestsServerDryRun(t *testing.T) {
	installCRDs(t)
	kubeconfig := testEnv.Clusters[0].Kubeconfig
	for _, ns := range []string{conciergeNamespace, "selkie-supervisor"} {
		if _, errOut, err := kubectlWith(t, kubeconfig, "get", "namespace", ns); err != nil {
			if !strings.Contains(errOut, "NotFound") {
				t.Fatalf("kubectl get namespace %s: %v\n%s", ns, err, errOut)
			}
			if _, errOut, err := kubectlWith(t, kubeconfig, "create", "namespace", ns); err != nil && !strings.Contains(errOut, "AlreadyExists") {
				t.Fatalf("kubectl create namespace %s: %v\n%s", ns, err, errOut)
			}
		}
	}
	// Exactly the command of the issue and docs/install.md: the whole directory.
	manifests := testEnvRepoFile(t, "deploy/manifests")
	names, errOut, err := kubectlWith(t, kubeconfig, "create", "--dry-run=client", "-o", "name", "-f", manifests)
	if err != nil {
		t.Fatalf("kubectl create --dry-run=client: %v\n%s", err, errOut)
	}
	want := strings.Fields(names)
	out, errOut, err := kubectlWith(t, kubeconfig, "apply", "--dry-run=server", "-f", manifests)
	if err != nil {
		t.Fatalf("kubectl apply --dry-run=server: %v\n%s\n%s", err, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, line := range lines {
		if !strings.HasSuffix(line, "(server dry run)") {
			t.Errorf("unexpected kubectl output line %q", line)
		}
	}
	if len(lines) != len(want) || len(want) < 30 {
		t.Errorf("server dry run reported %d objects, the manifests hold %d:\n%s", len(lines), len(want), out)
	}
	t.Logf("%d objects accepted by the API server (dry run)", len(lines))
	// The dry run must not have created anything: this Role exists in no other test.
	if _, errOut, err := kubectlWith(t, kubeconfig, "get", "role", "-n", "kube-public", "selkie-concierge-cluster-info-reader"); err == nil || !strings.Contains(errOut, "NotFound") {
		t.Errorf("the dry run created Role kube-public/selkie-concierge-cluster-info-reader (err %v): %s", err, errOut)
	}
}
