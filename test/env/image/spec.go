// SPDX-License-Identifier: Apache-2.0

package image

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

const (
	// modulePath prefixes the import paths of the programs the images hold.
	modulePath = "github.com/selkie-dev/selkie"

	// NonrootID is the UID and GID the Selkie image runs as: an unprivileged ID that no
	// host account is likely to have (the same as distroless's nonroot).
	NonrootID = 65532
	// PauseID is the UID and GID of the pause image, as in Kubernetes' own pause image.
	PauseID = 65535

	// caBundle is where Debian's ca-certificates package keeps the CA bundle, on the build
	// host and in the golang image the Dockerfile builds in; the image keeps it there too
	// because Go's crypto/x509 looks there first (SSL_CERT_FILE names it anyway).
	caBundle = "/etc/ssl/certs/ca-certificates.crt"
)

// File is one entry of an image's file system: a directory, a regular file or a symbolic
// link.
type File struct {
	// Path is absolute and clean, such as /usr/local/bin/selkie.
	Path string
	// Mode holds the permission bits, fs.ModeDir for a directory and fs.ModeSticky where
	// wanted (/tmp); a symbolic link is fs.ModeSymlink|0o777 (links have no permissions
	// of their own). No other type bits are supported.
	Mode fs.FileMode
	// UID and GID own the entry.
	UID, GID int
	// Source gives a regular file's bytes or a link's target; a directory has none.
	Source Source
}

// Source says where a regular file's bytes come from, or where a symbolic link points;
// exactly one field is set. It names the origin rather than holding the bytes, so a Spec
// can be compared with the Dockerfile without building anything.
type Source struct {
	// Text is the file's exact content.
	Text string
	// Host is a path on the build host whose file is copied as is (the CA bundle).
	Host string
	// Package is the import path of a main package; the file is its `go build` output,
	// found under the file's base name in Inputs.BinDir (see BuildPrograms).
	Package string
	// Link is a symbolic link's target: the name of a regular file of the Spec in the
	// link's own directory (selkie-server), so the link is relative and resolves the
	// same wherever the tree is unpacked. Only a link has it.
	Link string
}

// Config is an image's run configuration: the Dockerfile's USER, ENV, ENTRYPOINT and CMD.
type Config struct {
	User string
	// Env holds KEY=value pairs in the order a container sees them.
	Env        []string
	Entrypoint []string
	Cmd        []string
}

// Spec declares an image: a file tree, built as a single layer on an empty base, and its
// run configuration. Every parent directory of every entry is declared too, so that the
// image states each mode and owner instead of leaving them to the runtime's defaults.
type Spec struct {
	Files  []File
	Config Config
}

// SelkieSpec is the Selkie image: selkie-server (cmd/server, the supervisor, the
// concierge and the CLI in one program) in /usr/local/bin with the links
// selkie-supervisor, selkie-concierge and selkie to it, which it takes its role from; CA
// certificates, a nonroot user (65532) and writable /tmp and home directory; no shell and
// nothing else. It must match the Dockerfile's final stage
// (TestDockerfileMatchesSelkieSpec).
func SelkieSpec() Spec {
	const root = 0
	return Spec{
		Files: []File{
			dir("/etc", 0o755, root),
			textFile("/etc/group", "nonroot:x:65532:\n"),
			textFile("/etc/passwd", "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"),
			dir("/etc/ssl", 0o755, root),
			dir("/etc/ssl/certs", 0o755, root),
			{Path: caBundle, Mode: 0o644, Source: Source{Host: caBundle}},
			// /home stays root's, so the nonroot user can write its home directory only.
			dir("/home", 0o755, root),
			dir("/home/nonroot", 0o755, NonrootID),
			// Sticky and world-writable like every /tmp: anyone may create files, only
			// their owner may remove them.
			dir("/tmp", fs.ModeSticky|0o777, root),
			dir("/usr", 0o755, root),
			dir("/usr/local", 0o755, root),
			dir("/usr/local/bin", 0o755, root),
			program("/usr/local/bin/selkie-server", "/cmd/server"),
			// Deployments run `command: [selkie-supervisor]` and `[selkie-concierge]`, and CMD
			// runs selkie: selkie-server picks its role by the name it runs as.
			symlink("/usr/local/bin/selkie", serverProgram),
			symlink("/usr/local/bin/selkie-concierge", serverProgram),
			symlink("/usr/local/bin/selkie-supervisor", serverProgram),
		},
		Config: Config{
			User: "65532:65532",
			// No shell reads a profile, so the binaries are found through PATH alone.
			Env: []string{"PATH=/usr/local/bin", "HOME=/home/nonroot", "SSL_CERT_FILE=" + caBundle},
			Cmd: []string{"selkie", "version"},
		},
	}
}

// PauseSpec is the pause image: /pause (test/env/cmd/selkie-pause), the process that
// holds a pod sandbox's namespaces and reaps orphans in it, run as 65535 like
// Kubernetes' own pause image. Nothing else is in it.
func PauseSpec() Spec {
	return Spec{
		Files: []File{program("/pause", "/test/env/cmd/selkie-pause")},
		Config: Config{
			User:       "65535:65535",
			Entrypoint: []string{"/pause"},
		},
	}
}

// serverProgram is the file name of cmd/server in the Selkie image.
const serverProgram = "selkie-server"

func dir(p string, perm fs.FileMode, owner int) File {
	return File{Path: p, Mode: fs.ModeDir | perm, UID: owner, GID: owner}
}

func textFile(p, text string) File {
	return File{Path: p, Mode: 0o644, Source: Source{Text: text}}
}

// symlink is a root-owned symbolic link at p to target, a name in p's directory.
func symlink(p, target string) File {
	return File{Path: p, Mode: fs.ModeSymlink | 0o777, Source: Source{Link: target}}
}

// program is a root-owned executable built from the package at modulePath+pkg.
func program(p, pkg string) File {
	return File{Path: p, Mode: 0o755, Source: Source{Package: modulePath + pkg}}
}

// Validate reports the first problem that would make the image differ from what the Spec
// says: a path that is not absolute and clean, a duplicate, an undeclared parent
// directory, an unsupported mode, a file without exactly one source, or a symbolic link
// that is not a link to a regular file of the Spec in its own directory.
func (s Spec) Validate() error {
	byPath := make(map[string]File, len(s.Files))
	for _, f := range s.Files {
		if _, dup := byPath[f.Path]; dup {
			return fmt.Errorf("image path %s is declared twice", f.Path)
		}
		byPath[f.Path] = f
		if err := f.validate(); err != nil {
			return err
		}
	}
	for _, f := range s.Files {
		parent := path.Dir(f.Path)
		if p, ok := byPath[parent]; parent != "/" && (!ok || !p.Mode.IsDir()) {
			return fmt.Errorf("image path %s: parent %s is not declared as a directory", f.Path, parent)
		}
		if f.Mode&fs.ModeSymlink != 0 {
			if err := checkLink(f, byPath); err != nil {
				return err
			}
		}
	}
	return nil
}

// validate checks one entry on its own: its path, mode, owner and source.
func (f File) validate() error {
	if f.Path == "/" || !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path {
		return fmt.Errorf("image path %q is not an absolute, clean path below /", f.Path)
	}
	if extra := f.Mode &^ (fs.ModeDir | fs.ModeSticky | fs.ModeSymlink | fs.ModePerm); extra != 0 {
		return fmt.Errorf("image path %s has unsupported mode bits %v", f.Path, extra)
	}
	if f.Mode&fs.ModeSymlink != 0 && f.Mode != fs.ModeSymlink|0o777 {
		return fmt.Errorf("image symbolic link %s has mode %v, want %v", f.Path, f.Mode, fs.ModeSymlink|0o777)
	}
	if f.UID < 0 || f.GID < 0 {
		return fmt.Errorf("image path %s has a negative owner %d:%d", f.Path, f.UID, f.GID)
	}
	n := f.Source.count()
	switch {
	case f.Mode.IsDir() && n != 0:
		return fmt.Errorf("image directory %s has a source", f.Path)
	case f.Mode&fs.ModeSymlink != 0 && (n != 1 || f.Source.Link == ""):
		return fmt.Errorf("image symbolic link %s needs a link target and no other source", f.Path)
	case f.Mode.IsRegular() && f.Source.Link != "":
		return fmt.Errorf("image file %s has a link target but is not a symbolic link", f.Path)
	case f.Mode.IsRegular() && n != 1:
		return fmt.Errorf("image file %s has %d sources, want exactly one", f.Path, n)
	}
	return nil
}

// checkLink wants a link's target to be the name of a regular file in the link's
// directory: relative, so it resolves inside the image wherever the layer is unpacked, and
// declared, so the link cannot dangle.
func checkLink(f File, byPath map[string]File) error {
	target := f.Source.Link
	if strings.Contains(target, "/") || target == "." || target == ".." {
		return fmt.Errorf("image symbolic link %s points at %q; want the name of a file in %s", f.Path, target, path.Dir(f.Path))
	}
	if t, ok := byPath[path.Join(path.Dir(f.Path), target)]; !ok || !t.Mode.IsRegular() {
		return fmt.Errorf("image symbolic link %s points at %s, which is not a regular file of the image", f.Path, target)
	}
	return nil
}

func (src Source) count() int {
	n := 0
	for _, v := range []string{src.Text, src.Host, src.Package, src.Link} {
		if v != "" {
			n++
		}
	}
	return n
}

// sorted returns a copy of s whose files are ordered by path, which puts every directory
// before its entries: the order of the layer's tar, and a canonical form to compare.
func (s Spec) sorted() Spec {
	s.Files = slices.Clone(s.Files)
	slices.SortFunc(s.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return s
}
