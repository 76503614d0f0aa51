// SPDX-License-Identifier: Apache-2.0

package image

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The Selkie image has two builders: the Dockerfile (docker or podman, `make
// image-docker`) and Build(SelkieSpec()) (no daemon, `make image`). These tests keep them
// the same image. Rather than run the Dockerfile, which needs a daemon, or make it run our
// Go code, which would hide its layout from its readers, they read the Dockerfile into a
// Spec (dockerfile_parse_test.go models the instructions and shell commands it uses and
// refuses any other) and compare it with SelkieSpec: every path, mode, owner and source,
// and ENV, USER, CMD and ENTRYPOINT. The go build flags are compared with the Makefile's
// and hack/check-static.sh's too. TestDockerfileDriftIsCaught proves that a one-sided
// change fails.

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", name))
	if err != nil {
		t.Fatalf("read the repository's %s: %v", name, err)
	}
	return string(data)
}

// dockerfileDrift describes every difference between the image text builds and
// SelkieSpec built with goBuildFlags; empty means none.
func dockerfileDrift(text string) (string, error) {
	got, err := parseDockerfile(text)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if diff := cmp.Diff(SelkieSpec().sorted(), got.spec); diff != "" {
		fmt.Fprintf(&b, "final stage (-SelkieSpec +Dockerfile):\n%s", diff)
	}
	if diff := cmp.Diff(goBuildFlags("${VERSION}"), got.goBuildFlags); diff != "" {
		fmt.Fprintf(&b, "go build flags (-goBuildFlags +Dockerfile):\n%s", diff)
	}
	if cgo := got.buildEnv["CGO_ENABLED"]; cgo != "0" {
		fmt.Fprintf(&b, "the build stage has CGO_ENABLED=%q; the images need static binaries (0)\n", cgo)
	}
	return b.String(), nil
}

func TestDockerfileMatchesSelkieSpec(t *testing.T) {
	drift, err := dockerfileDrift(readRepoFile(t, "Dockerfile"))
	if err != nil {
		t.Fatalf("read the Dockerfile: %v\n(change test/env/image's Dockerfile model and SelkieSpec along with it)", err)
	}
	if drift != "" {
		t.Errorf("the Dockerfile and test/env/image.SelkieSpec build different images; change them together:\n%s", drift)
	}
}

// TestDockerfileDriftIsCaught changes the Dockerfile in the ways someone might without
// touching SelkieSpec, and wants each to be reported.
func TestDockerfileDriftIsCaught(t *testing.T) {
	original := readRepoFile(t, "Dockerfile")
	tests := []struct{ name, old, new string }{
		{"/tmp not sticky", "chmod 1777 /out/rootfs/tmp", "chmod 0777 /out/rootfs/tmp"},
		{"binary mode", "chmod 0755 /out/rootfs/usr/local/bin/selkie-server", "chmod 0750 /out/rootfs/usr/local/bin/selkie-server"},
		{"user", "USER 65532:65532", "USER 65532"},
		{"env value", "HOME=/home/nonroot", "HOME=/tmp"},
		{"env added", "ENV PATH=/usr/local/bin", "ENV TZ=UTC PATH=/usr/local/bin"},
		{"cmd", `CMD ["selkie", "version"]`, `CMD ["selkie", "--help"]`},
		{"entrypoint added", `CMD ["selkie", "version"]`, "ENTRYPOINT [\"selkie\"]\nCMD [\"version\"]"},
		{"CA bundle path", "ca-certificates.crt /out/rootfs/etc/ssl/certs/", "ca-certificates.crt /out/rootfs/etc/ssl/"},
		{"binary name", "bin/selkie-server ./cmd", "bin/selkie-srv ./cmd"},
		{"binary package", "./cmd/server", "./cmd/supervisor"},
		{"binary path", "-o /out/rootfs/usr/local/bin/", "-o /out/rootfs/usr/bin/"},
		{"link missing", " \\\n && ln -s selkie-server /out/rootfs/usr/local/bin/selkie-concierge", ""},
		{"link target", "ln -s selkie-server /out/rootfs/usr/local/bin/selkie-supervisor", "ln -s selkie /out/rootfs/usr/local/bin/selkie-supervisor"},
		{"absolute link target", "ln -s selkie-server /out/rootfs/usr/local/bin/selkie-supervisor", "ln -s /usr/local/bin/selkie-server /out/rootfs/usr/local/bin/selkie-supervisor"},
		{"link replaced by a copy", "ln -s selkie-server /out/rootfs/usr/local/bin/selkie \\", "cp /out/rootfs/usr/local/bin/selkie-server /out/rootfs/usr/local/bin/selkie \\"},
		{"link name", "/out/rootfs/usr/local/bin/selkie-concierge", "/out/rootfs/usr/local/bin/concierge"},
		{"login shell", ":/home/nonroot:/sbin/nologin", ":/home/nonroot:/bin/sh"},
		{"group", "echo 'nonroot:x:65532:'", "echo 'nonroot:x:65534:'"},
		{"home owner", "--chown=65532:65532", "--chown=65534:65534"},
		{"/home left to COPY --chown", " /out/rootfs/home ", " "},
		{"extra file", "&& chmod 1777", "&& echo hi >/out/rootfs/etc/motd \\\n && chmod 1777"},
		{"unmodelled command", "&& chmod 1777", "&& ln /out/rootfs/etc/passwd /out/rootfs/etc/shadow \\\n && chmod 1777"},
		{"extra link", "&& chmod 1777", "&& ln -s /tmp /out/rootfs/var \\\n && chmod 1777"},
		{"unmodelled instruction", "USER 65532:65532", "USER 65532:65532\nWORKDIR /home/nonroot"},
		{"copy from the context", "FROM scratch\n", "FROM scratch\nCOPY motd /etc/motd\n"},
		{"build flags", "go build -trimpath ", "go build "},
		{"cgo", "CGO_ENABLED=0", "CGO_ENABLED=1"},
	}
	if drift, err := dockerfileDrift(original); err != nil || drift != "" {
		t.Fatalf("the Dockerfile drifts already (see TestDockerfileMatchesSelkieSpec): %v %s", err, drift)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := strings.Count(original, tt.old); n != 1 {
				t.Fatalf("%q occurs %d times in the Dockerfile, want once: update this case", tt.old, n)
			}
			drift, err := dockerfileDrift(strings.Replace(original, tt.old, tt.new, 1))
			if err == nil && drift == "" {
				t.Errorf("replacing %q with %q went unnoticed", tt.old, tt.new)
			}
			t.Logf("caught: %v%s", err, drift)
		})
	}
}

// TestShellModelSymlinks checks the model of ln -s against what sh, ln and chmod do: the
// target is kept as written, chmod through a link (or a glob that matches one) changes
// the file it resolves to and leaves the link 0777, and what would write through a link,
// replace a file or put a link into a directory is refused or an error.
func TestShellModelSymlinks(t *testing.T) {
	b := &buildStage{tree: fsTree{}, env: map[string]string{}, workdir: "/out"}
	err := b.run("mkdir -p bin && echo x >bin/prog && ln -s prog bin/a && ln -s a /out/bin/b && ln -s /out/bin/prog bin/abs" +
		" && chmod 0700 bin/* && chmod 0750 bin/b")
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	link := func(p, target string) File {
		return File{Path: p, Mode: fs.ModeSymlink | 0o777, Source: Source{Link: target}}
	}
	want := fsTree{
		"/out":          dir("/out", 0o755, 0),
		"/out/bin":      dir("/out/bin", 0o755, 0),
		"/out/bin/prog": {Path: "/out/bin/prog", Mode: 0o750, Source: Source{Text: "x\n"}},
		"/out/bin/a":    link("/out/bin/a", "prog"),
		"/out/bin/b":    link("/out/bin/b", "a"),
		"/out/bin/abs":  link("/out/bin/abs", "/out/bin/prog"),
	}
	if diff := cmp.Diff(want, b.tree); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}

	for line, wantErr := range map[string]string{
		"ln -s prog /out/bin/a":                                "exists",
		"ln -s prog /out/bin/prog":                             "exists",
		"ln -s prog /out/bin":                                  "into a directory",
		"ln -s prog /out/bin/":                                 "into a directory",
		"ln -s prog /out/nodir/x":                              "no directory",
		"ln -sf prog /out/bin/a":                               "not modelled",
		"ln prog /out/bin/hard":                                "not modelled",
		"echo y >/out/bin/a":                                   "through the symbolic link",
		"cp /etc/hosts /out/bin/b":                             "through the symbolic link",
		"ln -s gone /out/bin/c && chmod 0755 /out/bin/c":       "no such file",
		"ln -s loop /out/bin/loop && chmod 0755 /out/bin/loop": "too many levels",
	} {
		clone := &buildStage{tree: maps.Clone(b.tree), env: map[string]string{}, workdir: "/out"}
		if err := clone.run(line); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s: %v, want an error containing %q", line, err, wantErr)
		}
	}
}

// TestGoBuildFlagsMatchMakefile keeps `make build`, hack/check-static.sh and goBuildFlags
// (used by `make image`) building the same binaries.
func TestGoBuildFlagsMatchMakefile(t *testing.T) {
	makefile := readRepoFile(t, "Makefile")
	want := goBuildFlags("$(VERSION)")
	if m := regexp.MustCompile(`(?m)^LDFLAGS := (.*)$`).FindStringSubmatch(makefile); m == nil || m[1] != want[2] {
		t.Errorf("Makefile LDFLAGS line %q, want %q", m, "LDFLAGS := "+want[2])
	}
	for _, line := range []string{"TRIMPATH ?= " + want[0], "export CGO_ENABLED ?= 0", "CGO ?= $(CGO_ENABLED)"} {
		if !strings.Contains(makefile, "\n"+line+"\n") {
			t.Errorf("Makefile has no line %q", line)
		}
	}
	script := readRepoFile(t, "hack/check-static.sh")
	if want := `LDFLAGS="` + goBuildFlags("${VERSION}")[2] + `"`; !strings.Contains(script, "\n"+want+"\n") {
		t.Errorf("hack/check-static.sh has no line %s", want)
	}
}
