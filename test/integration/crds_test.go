// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/selkie-dev/selkie/test/env"
)

// selkieCRDs are the CustomResourceDefinitions wire-contract §1 defines.
var selkieCRDs = []string{
	"jwtauthenticators.authentication.concierge.selkie.dev",
	"webhookauthenticators.authentication.concierge.selkie.dev",
	"credentialissuers.config.concierge.selkie.dev",
	"federationdomains.config.supervisor.selkie.dev",
	"oidcclients.config.supervisor.selkie.dev",
	"oidcidentityproviders.idp.supervisor.selkie.dev",
	"ldapidentityproviders.idp.supervisor.selkie.dev",
	"activedirectoryidentityproviders.idp.supervisor.selkie.dev",
	"githubidentityproviders.idp.supervisor.selkie.dev",
}

var crdsInstalled struct {
	sync.Mutex
	result map[int]error
}

// installCRDs applies generated/crds to the management cluster once and waits for
// every CRD to be Established.
func installCRDs(t testing.TB) {
	t.Helper()
	installCRDsOn(t, 0)
}

// installCRDsOn is installCRDs for the cluster testEnv.Clusters[cluster].
func installCRDsOn(t testing.TB, cluster int) {
	t.Helper()
	crdsInstalled.Lock()
	err, done := crdsInstalled.result[cluster]
	if !done {
		err = applyCRDs(t, testEnv.Clusters[cluster].Kubeconfig)
		if crdsInstalled.result == nil {
			crdsInstalled.result = map[int]error{}
		}
		crdsInstalled.result[cluster] = err
	}
	crdsInstalled.Unlock()
	if err != nil {
		t.Fatal(err)
	}
}

func applyCRDs(t testing.TB, kubeconfig string) error {
	dir := testEnvRepoFileNoT("generated/crds")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no CRD YAML in %s (run make generate): %v", dir, err)
	}
	if _, errOut, err := kubectlWith(t, kubeconfig, "apply", "--server-side", "-f", dir); err != nil {
		return fmt.Errorf("kubectl apply -f generated/crds: %v\n%s", err, errOut)
	}
	args := []string{"wait", "--for=condition=Established", "--timeout=60s"}
	for _, name := range selkieCRDs {
		args = append(args, "crd/"+name)
	}
	if _, errOut, err := kubectlWith(t, kubeconfig, args...); err != nil {
		return fmt.Errorf("CRDs not Established: %v\n%s", err, errOut)
	}
	return nil
}

func TestAllCRDsAreEstablished(t *testing.T) {
	t.Parallel()
	installCRDs(t)
	out := mustKubectl(t, "get", "crds", "-o", "jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type==\"Established\")].status}{\"\\n\"}{end}")
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		name, status, _ := strings.Cut(line, "=")
		if strings.HasSuffix(name, ".selkie.dev") {
			got = append(got, name)
			if status != "True" {
				t.Errorf("CRD %s Established=%q", name, status)
			}
		}
	}
	want := slices.Clone(selkieCRDs)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("installed selkie.dev CRDs = %v, want %v", got, want)
	}
	files, _ := filepath.Glob(filepath.Join(testEnvRepoFile(t, "generated/crds"), "*.yaml"))
	if len(files) != len(selkieCRDs) {
		t.Errorf("generated/crds has %d files, want one per CRD (%d)", len(files), len(selkieCRDs))
	}
}

// TestFederationDomainRejectsHTTPIssuer checks the CRD's CEL rule end to end: the API
// server itself refuses an http:// issuer with the contract's message.
func TestFederationDomainRejectsHTTPIssuer(t *testing.T) {
	t.Parallel()
	installCRDs(t)
	ctx := testContext(t)
	client := adminClient(t)
	ns, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "fd-cel-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}) })

	apply := func(name, issuer string) (string, error) {
		manifest := fmt.Sprintf("apiVersion: config.supervisor.selkie.dev/v1alpha1\nkind: FederationDomain\n"+
			"metadata: {name: %s, namespace: %s}\nspec: {issuer: %q}\n", name, ns.Name, issuer)
		path := filepath.Join(t.TempDir(), name+".yaml")
		if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
			t.Fatal(err)
		}
		_, errOut, err := kubectl(t, "create", "-f", path)
		return errOut, err
	}
	errOut, err := apply("plain-http", "http://id.example.com/fd1")
	if err == nil {
		t.Fatal("FederationDomain with an http:// issuer was accepted")
	}
	if !strings.Contains(errOut, "issuer must be an HTTPS URL") {
		t.Errorf("rejection does not carry the contract's message:\n%s", errOut)
	}
	if errOut, err := apply("https", "https://id.example.com/fd1"); err != nil {
		t.Errorf("FederationDomain with an https:// issuer was rejected: %v\n%s", err, errOut)
	}
}

func testEnvRepoFile(t testing.TB, rel string) string {
	t.Helper()
	return testEnvRepoFileNoT(rel)
}

// testEnvRepoFileNoT is the path of rel in the repository; the tests run inside it, so
// failing to find the root is a broken checkout.
func testEnvRepoFileNoT(rel string) string {
	root, err := env.RepoRoot()
	if err != nil {
		panic(err)
	}
	return filepath.Join(root, filepath.FromSlash(rel))
}
