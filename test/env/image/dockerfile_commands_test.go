// SPDX-License-Identifier: Apache-2.0

package image

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// command runs one modelled shell command of a build stage's RUN line: go mod download,
// go build, mkdir -p, cp, echo with a redirect, chmod with an octal mode and ln -s.
func (b *buildStage) command(args []string, redirect string) error {
	if redirect != "" && args[0] != "echo" {
		return fmt.Errorf("%s with a redirect is not modelled", args[0])
	}
	for _, a := range args {
		// ${VERSION} stays as written: the test compares the flags with goBuildFlags("${VERSION}").
		if strings.Contains(strings.ReplaceAll(a, "${VERSION}", ""), "$") {
			return fmt.Errorf("variable in %q is not modelled", a)
		}
	}
	switch {
	case slices.Equal(args, []string{"go", "mod", "download"}):
		return nil
	case len(args) > 1 && args[0] == "go" && args[1] == "build":
		return b.goBuild(args[2:])
	case args[0] == "mkdir" && len(args) > 2 && args[1] == "-p":
		for _, d := range args[2:] {
			if err := b.tree.mkdirAll(b.abs(d), 0); err != nil {
				return err
			}
		}
		return nil
	case args[0] == "cp" && len(args) == 3 && !strings.HasPrefix(args[1], "-"):
		// cp without -p: the source's mode under the umask, and the CA bundle is 0644. In
		// the golang image and on the build host it is Debian's ca-certificates bundle.
		dst := b.abs(args[2])
		if strings.HasSuffix(args[2], "/") || b.tree[dst].Mode.IsDir() {
			dst = path.Join(dst, path.Base(args[1]))
		}
		return b.tree.create(dst, 0o644, Source{Host: b.abs(args[1])})
	case args[0] == "echo" && redirect != "":
		if len(args) > 1 && strings.HasPrefix(args[1], "-") {
			return fmt.Errorf("echo %s is not modelled", args[1])
		}
		return b.tree.create(b.abs(redirect), 0o644, Source{Text: strings.Join(args[1:], " ") + "\n"})
	case args[0] == "chmod" && len(args) > 2:
		return b.chmod(args[1], args[2:])
	case args[0] == "ln" && len(args) == 4 && args[1] == "-s" && !strings.HasPrefix(args[2], "-"):
		if strings.HasSuffix(args[3], "/") {
			return fmt.Errorf("ln -s %s %s: a link into a directory is not modelled", args[2], args[3])
		}
		return b.tree.symlink(b.abs(args[3]), args[2])
	}
	return fmt.Errorf("command %q is not modelled", strings.Join(args, " "))
}

// abs resolves p against the working directory.
func (b *buildStage) abs(p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return cleanAbs(path.Join(b.workdir, p))
}

// goBuild models `go build <flags> -o <out> <package>`: out is created 0755 with its
// directories, from the package resolved against the module root (WORKDIR holds the
// module, COPY . .).
func (b *buildStage) goBuild(args []string) error {
	o := slices.Index(args, "-o")
	if o < 0 || len(args) != o+3 || !strings.HasPrefix(args[o+2], "./") {
		return fmt.Errorf("only `go build <flags> -o <file> ./<package>` is modelled, not %q", args)
	}
	flags := args[:o:o]
	if b.goFlags != nil && !slices.Equal(b.goFlags, flags) {
		return fmt.Errorf("go build flags %q differ from an earlier go build's %q", flags, b.goFlags)
	}
	b.goFlags = flags
	out := b.abs(args[o+1])
	if err := b.tree.mkdirAll(path.Dir(out), 0); err != nil {
		return err
	}
	pkg := modulePath + "/" + path.Clean(strings.TrimPrefix(args[o+2], "./"))
	return b.tree.create(out, 0o755, Source{Package: pkg})
}

// chmod applies an octal mode to paths; a trailing * matches the entries of a directory.
// As chmod(2) does, it changes the file a symbolic link resolves to, never the link.
func (b *buildStage) chmod(mode string, paths []string) error {
	m, err := strconv.ParseUint(mode, 8, 32)
	if err != nil || m&^0o1777 != 0 {
		return fmt.Errorf("chmod %s: only octal modes without setuid or setgid are modelled", mode)
	}
	perm := fs.FileMode(m & 0o777)
	if m&0o1000 != 0 {
		perm |= fs.ModeSticky
	}
	for _, pattern := range paths {
		pattern = b.abs(pattern)
		var matched []string
		for p := range b.tree {
			if ok, _ := path.Match(pattern, p); ok {
				matched = append(matched, p)
			}
		}
		if len(matched) == 0 {
			return fmt.Errorf("chmod %s %s: no such file", mode, pattern)
		}
		for _, p := range matched {
			p, err := b.tree.resolve(p)
			if err != nil {
				return fmt.Errorf("chmod %s: %w", mode, err)
			}
			f := b.tree[p]
			f.Mode = f.Mode&fs.ModeDir | perm
			b.tree[p] = f
		}
	}
	return nil
}
