// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinariesAnswerVersion builds the binaries the way `make build` does and checks each
// reports the version injected by the linker, the multi-call selkie-server in each role.
func TestBinariesAnswerVersion(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	const version = "v0.0.0-integration"
	// The Makefile's own build configuration: under `make test` (CGO_ENABLED=0, -trimpath
	// in GOFLAGS) that is the test binary's too, so this mostly links.
	build := exec.Command("make", "build", "VERSION="+version, "BIN="+bin)
	build.Dir = testEnvRepoFile(t, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	for _, name := range []string{"selkie", "selkie-supervisor", "selkie-concierge"} {
		out, err := exec.Command(filepath.Join(bin, name), "version").Output()
		if err != nil {
			t.Errorf("%s version: %v", name, err)
			continue
		}
		if !strings.HasPrefix(string(out), name+" "+version+" ") {
			t.Errorf("%s version printed %q, want it to start with %q", name, out, name+" "+version)
		}
		out, err = exec.Command(filepath.Join(bin, name), "version", "-o", "json").Output()
		var info struct{ Version string }
		if err != nil || json.Unmarshal(out, &info) != nil || info.Version != version {
			t.Errorf("%s version -o json = %q (%v), want version %q", name, out, err, version)
		}
	}
	// The image's one program answers as each role through a link of the role's name, as
	// the image lays it out.
	links := t.TempDir()
	for _, name := range []string{"selkie", "selkie-supervisor", "selkie-concierge"} {
		link := filepath.Join(links, name)
		if err := os.Symlink(filepath.Join(bin, "selkie-server"), link); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(link, "version").Output()
		if err != nil || !strings.HasPrefix(string(out), name+" "+version+" ") {
			t.Errorf("selkie-server run as %s: version printed %q (%v), want it to start with %q", name, out, err, name+" "+version)
		}
	}
}
