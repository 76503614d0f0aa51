// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

const crdDir = "../../generated/crds"

func TestRenderAPICoversEveryKind(t *testing.T) {
	t.Parallel()
	doc, err := renderAPI(crdDir)
	if err != nil {
		t.Fatal(err)
	}
	got := string(doc)
	paths, err := filepath.Glob(filepath.Join(crdDir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no CRDs in %s: %v", crdDir, err)
	}
	kinds := []string{"TokenCredentialRequest", "WhoAmIRequest", "OIDCClientSecretRequest", "SupervisorSession"}
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(raw, &crd); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		kinds = append(kinds, crd.Spec.Names.Kind)
		if !strings.Contains(got, "the CustomResourceDefinition `"+crd.Name+"`") {
			t.Errorf("api.md does not name the CRD %s", crd.Name)
		}
	}
	for _, kind := range kinds {
		if strings.Count(got, "\n#### "+kind+"\n") != 1 {
			t.Errorf("api.md has no single section for %s", kind)
		}
		if !strings.Contains(got, "["+kind+"](#"+strings.ToLower(kind)+")") {
			t.Errorf("api.md contents do not link %s", kind)
		}
	}
	if n := strings.Count(got, "(aggregated API)"); n != 4 {
		t.Errorf("want 4 aggregated kinds in the contents, got %d", n)
	}
}

func TestRenderAPIFields(t *testing.T) {
	t.Parallel()
	doc, err := renderAPI(crdDir)
	if err != nil {
		t.Fatal(err)
	}
	got := string(doc)
	for _, want := range []string{
		// A required CRD field with its constraints.
		"| `spec.issuer` | string | yes | Issuer is the OIDC issuer URL.",
		// A CRD default and enum.
		"Default: `\"username\"`.",
		"One of: `\"Secret\"`, `\"ConfigMap\"`.",
		// Aggregated kinds: references expanded, required from the Go types, no zero defaults.
		"| `spec.authenticator.kind` | string | yes |",
		"| `status.credential.expirationTimestamp` | string (date-time) |",
		"| `status.identityProvider.displayName` | string | yes |",
		"| `metadata` | ObjectMeta |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("api.md lacks %q", want)
		}
	}
	if strings.Contains(got, "| `apiVersion` |") || strings.Contains(got, "| `kind` |") {
		t.Error("api.md lists apiVersion or kind, which every kind has")
	}
}

func TestWriteDirRemovesStalePages(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "cli")
	if err := writeDir(dir, map[string][]byte{"a.md": []byte("a"), "gone.md": []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := writeDir(dir, map[string][]byte{"a.md": []byte("a2")}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "gone.md")); !os.IsNotExist(err) {
		t.Errorf("stale gone.md not removed: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "a.md")); err != nil || string(b) != "a2" {
		t.Errorf("a.md = %q, %v; want a2", b, err)
	}
}
