// SPDX-License-Identifier: Apache-2.0

//go:build integration

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheck builds a tiny program twice, static and with cgo's dynamic linking, and
// expects only the static build to pass. The cgo build is skipped without a C compiler.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nimport \"net\"\n\nfunc main() { _, _ = net.LookupHost(\"localhost\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	build := func(name, cgo string) string {
		out := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", out, src)
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgo, "GOOS=linux", "GOFLAGS=")
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("cannot build with CGO_ENABLED=%s: %v\n%s", cgo, err, b)
		}
		return out
	}

	_, problems, err := check(build("static", "0"))
	if err != nil || len(problems) > 0 {
		t.Fatalf("static build: problems %v, err %v", problems, err)
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no C compiler for the dynamic case")
	}
	_, problems, err = check(build("dynamic", "1"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(problems, ";"), "PT_INTERP") {
		t.Errorf("dynamic build: want a PT_INTERP problem, got %v", problems)
	}
}
