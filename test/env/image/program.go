// SPDX-License-Identifier: Apache-2.0

package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// Program is a Go main package whose `go build` output is a file of an image.
type Program struct {
	// Name is the file's base name in the image, and the binary's name in Inputs.BinDir.
	Name string
	// Package is the main package's import path.
	Package string
}

// Programs lists the programs spec's files are built from, sorted by name.
func (s Spec) Programs() []Program {
	var out []Program
	for _, f := range s.Files {
		if f.Source.Package != "" {
			out = append(out, Program{Name: path.Base(f.Path), Package: f.Source.Package})
		}
	}
	slices.SortFunc(out, func(a, b Program) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// goBuildFlags are the `go build` flags of a release binary, as in the Makefile's build
// target and the Dockerfile: no build paths in the binary, no symbol tables, and the
// version that `selkie version` prints. CGO_ENABLED=0 goes in the environment.
func goBuildFlags(version string) []string {
	return []string{"-trimpath", "-ldflags", "-s -w -X " + modulePath + "/pkg/version.version=" + version}
}

// BuildPrograms builds every program of specs into dir (created if missing) with
// `go build`, static (CGO_ENABLED=0) for linux on arch (empty means runtime.GOARCH),
// because the images have no libc and no loader, and makes the specs' links to them. It runs in the current directory, which
// must be inside the Selkie module; go's output goes to out.
func BuildPrograms(ctx context.Context, dir, version, arch string, out io.Writer, specs ...Spec) error {
	if arch == "" {
		arch = runtime.GOARCH
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create the directory for the image's binaries: %w", err)
	}
	byName := map[string]string{}
	var programs []Program
	for _, s := range specs {
		for _, p := range s.Programs() {
			if pkg, seen := byName[p.Name]; seen {
				if pkg != p.Package {
					return fmt.Errorf("binary name %s is built from both %s and %s", p.Name, pkg, p.Package)
				}
				continue
			}
			byName[p.Name] = p.Package
			programs = append(programs, p)
		}
	}
	// One go build per program: each needs its own output name, and they share the build
	// cache, so the later ones mostly link.
	for _, p := range programs {
		args := append(append([]string{"build"}, goBuildFlags(version)...), "-o", filepath.Join(dir, p.Name), p.Package)
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s: %w", p.Package, err)
		}
	}
	return linkPrograms(dir, specs...)
}

// linkPrograms makes in dir the symbolic links the specs' images have to their programs
// (selkie, selkie-supervisor and selkie-concierge to selkie-server), so that dir can be
// used as the image's /usr/local/bin is: the local demo runs the image's CLI from it.
func linkPrograms(dir string, specs ...Spec) error {
	for _, s := range specs {
		for _, f := range s.Files {
			if f.Mode&fs.ModeSymlink == 0 {
				continue
			}
			link := filepath.Join(dir, path.Base(f.Path))
			if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if err := os.Symlink(f.Source.Link, link); err != nil {
				return fmt.Errorf("link the image's %s: %w", f.Path, err)
			}
		}
	}
	return nil
}
