// SPDX-License-Identifier: Apache-2.0

package image

import (
	"debug/elf"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestBuildProgramsBuildsStaticPause builds the pause program (small and quick) into a
// directory that does not exist yet and checks that it is a static linux binary: the
// pause image has no loader to start anything else.
func TestBuildProgramsBuildsStaticPause(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: this test runs go build")
	}
	dir := filepath.Join(t.TempDir(), "bin")
	if err := BuildPrograms(t.Context(), dir, "test", "", io.Discard, PauseSpec()); err != nil {
		t.Fatalf("BuildPrograms: %v", err)
	}
	f, err := elf.Open(filepath.Join(dir, "pause"))
	if err != nil {
		t.Fatalf("the built pause is not an ELF binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("pause needs a program interpreter: not static")
		}
	}
	if want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]; want != 0 && f.Machine != want {
		t.Errorf("pause is built for %v, want %v (runtime.GOARCH)", f.Machine, want)
	}
}

func TestBuildProgramsRefusesNameClash(t *testing.T) {
	other := Spec{Files: []File{program("/pause", "/cmd/cli")}}
	err := BuildPrograms(t.Context(), t.TempDir(), "test", "", io.Discard, PauseSpec(), other)
	if err == nil || !strings.Contains(err.Error(), "built from both") {
		t.Errorf("BuildPrograms with two programs named pause: %v, want a clash error", err)
	}
}

// TestLinkPrograms: the bin directory gets the image's links, replacing whatever had the
// name, and the CLI link runs the multi-call program.
func TestLinkPrograms(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "selkie-server"), []byte("program"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "selkie"), []byte("an old CLI binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	for range 2 { // again over its own links
		if err := linkPrograms(dir, SelkieSpec()); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"selkie", "selkie-supervisor", "selkie-concierge"} {
		target, err := os.Readlink(filepath.Join(dir, name))
		if err != nil || target != "selkie-server" {
			t.Errorf("%s -> %q (%v), want selkie-server", name, target, err)
		}
		if data, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(data) != "program" {
			t.Errorf("%s reads %q (%v), want the program", name, data, err)
		}
	}
}
