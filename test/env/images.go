// SPDX-License-Identifier: Apache-2.0

package env

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/selkie-dev/selkie/test/env/image"
)

// PauseImageName is the pod sandbox image every node is given (test/env/cmd/selkie-pause,
// built here: no registry is reachable to pull one from).
const PauseImageName = "selkie-pause:1"

// BuildPauseImage builds the pause image into dir and returns the tarball's path and
// the image's name as containerd stores it (what the nodes' sandbox setting names).
func BuildPauseImage(ctx context.Context, dir string) (tarball, name string, err error) {
	bin := filepath.Join(dir, "pause-bin")
	spec := image.PauseSpec()
	if err := image.BuildPrograms(ctx, bin, "dev", "", io.Discard, spec); err != nil {
		return "", "", fmt.Errorf("build the pause program: %w", err)
	}
	img, err := image.Build(spec, image.Inputs{BinDir: bin})
	if err != nil {
		return "", "", err
	}
	if name, err = image.NormalizeName(PauseImageName); err != nil {
		return "", "", err
	}
	tarball = filepath.Join(dir, "pause.tar")
	return tarball, name, image.WriteOCITarball(tarball, map[string]v1.Image{PauseImageName: img})
}

// NetcheckImageName is the network probe's image (test/env/cmd/selkie-netcheck).
const NetcheckImageName = "selkie-netcheck:1"

// netcheckSpec is a one-file image running selkie-netcheck as an unprivileged user.
func netcheckSpec() image.Spec {
	return image.Spec{
		Files: []image.File{{Path: "/netcheck", Mode: 0o755,
			Source: image.Source{Package: "github.com/selkie-dev/selkie/test/env/cmd/selkie-netcheck"}}},
		Config: image.Config{User: "65532:65532", Entrypoint: []string{"/netcheck"}},
	}
}

// ToolboxImageName is an image with a shell and tar (Debian's static busybox), for the
// tests of kubectl exec, attach and cp: the Selkie images have neither.
const ToolboxImageName = "selkie-toolbox:1"

// busybox is where Debian's busybox-static package installs the binary.
const busybox = "/bin/busybox"

// toolboxSpec copies busybox under the names the tests call (busybox picks the applet
// by its own name), runs as an unprivileged user and has a writable /tmp.
func toolboxSpec() image.Spec {
	files := []image.File{
		{Path: "/bin", Mode: fs.ModeDir | 0o755},
		{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
	}
	for _, applet := range []string{"busybox", "cat", "echo", "ls", "sh", "sleep", "tar"} {
		files = append(files, image.File{Path: "/bin/" + applet, Mode: 0o755, Source: image.Source{Host: busybox}})
	}
	return image.Spec{Files: files, Config: image.Config{User: "65532:65532", Env: []string{"PATH=/bin"}, Cmd: []string{"sh"}}}
}

// BuildTestImages builds the Selkie image under each of tags, the network probe's image
// and the toolbox image into one tarball at path, for Node.ImportImage. version is what
// the binaries report.
func BuildTestImages(ctx context.Context, path, version string, tags ...string) error {
	bin := filepath.Join(filepath.Dir(path), "bin-"+filepath.Base(path))
	selkie, probe := image.SelkieSpec(), netcheckSpec()
	if err := image.BuildPrograms(ctx, bin, version, "", io.Discard, selkie, probe); err != nil {
		return fmt.Errorf("build the images' programs: %w", err)
	}
	images := map[string]v1.Image{}
	if _, err := os.Stat(busybox); err != nil {
		return fmt.Errorf("the toolbox image needs %s: apt-get install busybox-static (hack/install-deps.sh)", busybox)
	}
	specs := map[string]image.Spec{NetcheckImageName: probe, ToolboxImageName: toolboxSpec(), "": selkie}
	for name, spec := range specs {
		img, err := image.Build(spec, image.Inputs{BinDir: bin})
		if err != nil {
			return err
		}
		if name != "" {
			images[name] = img
			continue
		}
		for _, t := range tags {
			images[t] = img
		}
	}
	return image.WriteOCITarball(path, images)
}
