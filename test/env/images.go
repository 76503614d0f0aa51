// SPDX-License-Identifier: Apache-2.0

package env

import (
	"context"
	"fmt"
	"io"
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

// BuildTestImages builds the Selkie image under each of tags and the network probe's
// image into one tarball at path, for Node.ImportImage. version is what the binaries
// report.
func BuildTestImages(ctx context.Context, path, version string, tags ...string) error {
	bin := filepath.Join(filepath.Dir(path), "bin-"+filepath.Base(path))
	selkie, probe := image.SelkieSpec(), netcheckSpec()
	if err := image.BuildPrograms(ctx, bin, version, "", io.Discard, selkie, probe); err != nil {
		return fmt.Errorf("build the images' programs: %w", err)
	}
	images := map[string]v1.Image{}
	for name, spec := range map[string]image.Spec{NetcheckImageName: probe, "": selkie} {
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
