// SPDX-License-Identifier: Apache-2.0

package image

import (
	"debug/elf"
	"io"
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
