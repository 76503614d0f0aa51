// SPDX-License-Identifier: Apache-2.0

// Command selkie-image builds the Selkie container image without a container daemon and
// writes it as an OCI image-layout tarball (default bin/selkie-image.tar) for
// `ctr -n k8s.io images import`. It builds selkie-server (cmd/server: the supervisor, the
// concierge and the CLI in one program) as the Makefile does (or takes a prebuilt static
// binary with -bin), lays it out with its links selkie-supervisor, selkie-concierge and
// selkie as the Dockerfile's final stage does (test/env/image.SelkieSpec) and names the image with
// every -tag; with -pause the tarball also holds the pause image for the local Kubernetes
// nodes. The same binaries always give the same digests. `make image` runs it.
package main

import (
	"context"
	"debug/elf"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/selkie-dev/selkie/test/env/image"
)

// nameList is a flag that may be repeated and takes comma-separated names.
type nameList []string

func (l *nameList) String() string { return strings.Join(*l, ",") }

func (l *nameList) Set(v string) error {
	for name := range strings.SplitSeq(v, ",") {
		if name = strings.TrimSpace(name); name != "" {
			*l = append(*l, name)
		}
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "selkie-image:", err)
		os.Exit(1)
	}
}

func run() error {
	var tags nameList
	out := flag.String("o", filepath.Join("bin", "selkie-image.tar"), "the OCI image-layout tarball to write")
	flag.Var(&tags, "tag", "name of the Selkie image; repeat the flag or separate names by commas (default selkie:dev)")
	version := flag.String("version", "", "version stamped into the binaries (default: git describe --tags --always --dirty, else dev)")
	withPause := flag.Bool("pause", false, "also write the pause image the local Kubernetes nodes run pod sandboxes from")
	pauseTag := flag.String("pause-tag", "selkie-pause:1", "name of the pause image (with -pause)")
	binDir := flag.String("bin", "", "take prebuilt static linux binaries from this directory (selkie-server, and pause with -pause) instead of building them")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	if len(tags) == 0 {
		tags = nameList{"selkie:dev"}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()

	created, err := sourceDateEpoch()
	if err != nil {
		return err
	}
	targets, err := imageTargets(tags, *withPause, *pauseTag)
	if err != nil {
		return err
	}
	var specs []image.Spec
	for _, t := range targets {
		specs = append(specs, t.spec)
	}
	in := image.Inputs{BinDir: *binDir, Arch: goarch(), Created: created}
	if in.BinDir == "" {
		if in.BinDir, err = os.MkdirTemp("", "selkie-image-bin-"); err != nil {
			return err
		}
		defer os.RemoveAll(in.BinDir)
		if *version == "" {
			*version = gitDescribe(ctx)
		}
		fmt.Fprintf(os.Stderr, "selkie-image: building the binaries (version %s, linux/%s)\n", *version, in.Arch)
		if err := image.BuildPrograms(ctx, in.BinDir, *version, in.Arch, os.Stderr, specs...); err != nil {
			return err
		}
	} else if err := requireStatic(in.BinDir, specs); err != nil {
		return err
	}

	images, err := buildImages(targets, in)
	if err != nil {
		return err
	}
	if err := image.WriteOCITarball(*out, images); err != nil {
		return err
	}
	return report(*out, images, time.Since(start))
}

// target is one image and the names it gets in the tarball.
type target struct {
	spec  image.Spec
	names []string
}

// imageTargets lists the images to write, checking their names first: a bad name should
// fail before minutes of go build, not after.
func imageTargets(tags []string, withPause bool, pauseTag string) ([]target, error) {
	targets := []target{{spec: image.SelkieSpec(), names: tags}}
	if withPause {
		targets = append(targets, target{spec: image.PauseSpec(), names: []string{pauseTag}})
	}
	for _, t := range targets {
		for _, name := range t.names {
			if _, err := image.NormalizeName(name); err != nil {
				return nil, err
			}
		}
	}
	return targets, nil
}

// buildImages builds each target's image once and maps each of its names to it.
func buildImages(targets []target, in image.Inputs) (map[string]v1.Image, error) {
	images := map[string]v1.Image{}
	for _, t := range targets {
		img, err := image.Build(t.spec, in)
		if err != nil {
			return nil, fmt.Errorf("build image %s: %w", strings.Join(t.names, ","), err)
		}
		for _, name := range t.names {
			if _, dup := images[name]; dup {
				return nil, fmt.Errorf("image name %s is given twice", name)
			}
			images[name] = img
		}
	}
	return images, nil
}

// report prints each name with its qualified name, digest and compressed size, then the
// tarball's size and the time taken.
func report(out string, images map[string]v1.Image, took time.Duration) error {
	names := slices.Sorted(maps.Keys(images))
	for _, name := range names {
		img := images[name]
		full, err := image.NormalizeName(name)
		if err != nil {
			return err
		}
		digest, err := img.Digest()
		if err != nil {
			return fmt.Errorf("digest image %s: %w", name, err)
		}
		layers, err := img.Layers()
		if err != nil {
			return fmt.Errorf("list layers of image %s: %w", name, err)
		}
		var size int64
		for _, l := range layers {
			n, err := l.Size()
			if err != nil {
				return fmt.Errorf("size a layer of image %s: %w", name, err)
			}
			size += n
		}
		fmt.Printf("%-16s %s  %s  %s compressed\n", name, full, digest, mib(size))
	}
	info, err := os.Stat(out)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s (%s) in %s; import it with: ctr -n k8s.io images import %s\n",
		out, mib(info.Size()), took.Round(100*time.Millisecond), out)
	return nil
}

// sourceDateEpoch is the image creation time: SOURCE_DATE_EPOCH (seconds) when set, as
// reproducible-build tools agree, else the zero time, which image.Build makes the epoch.
func sourceDateEpoch() (time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return time.Time{}, nil
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds: %w", v, err)
	}
	return time.Unix(secs, 0), nil
}

// goarch is the architecture the binaries are built for: GOARCH if set, as go build does.
func goarch() string {
	if v := os.Getenv("GOARCH"); v != "" {
		return v
	}
	return runtime.GOARCH
}

// gitDescribe is the Makefile's VERSION: git describe, or dev outside a git checkout.
func gitDescribe(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "git", "describe", "--tags", "--always", "--dirty").Output()
	if v := strings.TrimSpace(string(out)); err == nil && v != "" {
		return v
	}
	return "dev"
}

// requireStatic refuses prebuilt binaries that need a program interpreter (the dynamic
// loader): the images have none, so such a binary could not start.
func requireStatic(dir string, specs []image.Spec) error {
	for _, s := range specs {
		for _, p := range s.Programs() {
			bin := filepath.Join(dir, p.Name)
			f, err := elf.Open(bin)
			if err != nil {
				return fmt.Errorf("prebuilt binary %s: %w", bin, err)
			}
			dynamic := slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
			f.Close()
			if dynamic {
				return fmt.Errorf("prebuilt binary %s is dynamically linked; build it with CGO_ENABLED=0", bin)
			}
		}
	}
	return nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
