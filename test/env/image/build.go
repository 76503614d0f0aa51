// SPDX-License-Identifier: Apache-2.0

package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Inputs says where Build finds the bytes a Spec's sources name, and what it stamps on
// the image besides the Spec.
type Inputs struct {
	// BinDir holds the programs that Source.Package files come from, each under its file's
	// base name (selkie-server, pause).
	BinDir string
	// HostRoot is prepended to Source.Host paths; empty means the build host's root.
	// Tests point it at a fake tree.
	HostRoot string
	// Arch is the image's architecture, the GOARCH its programs were built for; empty
	// means runtime.GOARCH. The OS is always linux.
	Arch string
	// Created is the time on every layer entry and in the config. The zero value means
	// the Unix epoch: nothing of the build host's clock or file times reaches the image, so
	// the same inputs always give the same digest (the command takes SOURCE_DATE_EPOCH).
	Created time.Time
}

// Build makes a single-layer OCI image from spec: an OCI manifest, an OCI config and one
// gzip-compressed layer holding spec's files in path order.
func Build(spec Spec, in Inputs) (v1.Image, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	created := in.Created.UTC()
	if in.Created.IsZero() {
		created = time.Unix(0, 0).UTC()
	}
	arch := in.Arch
	if arch == "" {
		arch = runtime.GOARCH
	}
	blob, err := layerBlob(spec.sorted(), in, created)
	if err != nil {
		return nil, err
	}
	// The opener hands out the compressed bytes, so go-containerregistry keeps them as
	// they are (no second compression) and only decompresses them for the diff ID.
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blob)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("read back image layer: %w", err)
	}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: arch,
		OS:           "linux",
		Created:      v1.Time{Time: created},
		Config: v1.Config{
			User:       spec.Config.User,
			Env:        spec.Config.Env,
			Entrypoint: spec.Config.Entrypoint,
			Cmd:        spec.Config.Cmd,
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, fmt.Errorf("set image config: %w", err)
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "selkie test/env/image.Build"},
	})
	if err != nil {
		return nil, fmt.Errorf("add image layer: %w", err)
	}
	return img, nil
}

// layerBlob writes the gzip-compressed tar of spec's files, which must be sorted.
// Everything in a header comes from the Spec and mtime, never from the host's files, so
// the bytes depend only on the Spec, the file contents and mtime.
func layerBlob(spec Spec, in Inputs, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	// Best speed: the tarball is imported locally, never pushed, and the binaries are
	// large; the gzip stream itself is deterministic (no name, zero header time).
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	for _, f := range spec.Files {
		if err := writeEntry(tw, f, in, mtime); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("finish image layer tar: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("finish image layer gzip: %w", err)
	}
	return buf.Bytes(), nil
}

func writeEntry(tw *tar.Writer, f File, in Inputs, mtime time.Time) error {
	hdr := &tar.Header{
		Name:    strings.TrimPrefix(f.Path, "/"),
		Mode:    tarMode(f.Mode),
		Uid:     f.UID,
		Gid:     f.GID,
		ModTime: mtime,
	}
	if f.Mode.IsDir() {
		hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write image directory %s: %w", f.Path, err)
		}
		return nil
	}
	if f.Mode&fs.ModeSymlink != 0 {
		// The target as declared, relative: it resolves inside the unpacked tree.
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, f.Source.Link
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write image symbolic link %s: %w", f.Path, err)
		}
		return nil
	}
	if f.Source.Text != "" {
		hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(f.Source.Text))
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write image file %s: %w", f.Path, err)
		}
		if _, err := io.WriteString(tw, f.Source.Text); err != nil {
			return fmt.Errorf("write image file %s: %w", f.Path, err)
		}
		return nil
	}
	src, err := hostPath(f, in)
	if err != nil {
		return err
	}
	file, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("open the source of image file %s: %w", f.Path, err)
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return fmt.Errorf("stat %s for image file %s: %w", src, f.Path, err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("source %s of image file %s is not a regular file", src, f.Path)
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write image file %s: %w", f.Path, err)
	}
	// CopyN: a file that grows meanwhile must not corrupt the tar; one that shrinks fails.
	if _, err := io.CopyN(tw, file, info.Size()); err != nil {
		return fmt.Errorf("copy %s into image file %s: %w", src, f.Path, err)
	}
	return nil
}

// hostPath is where a Host or Package source is read from on this machine.
func hostPath(f File, in Inputs) (string, error) {
	if f.Source.Host != "" {
		return filepath.Join(in.HostRoot, filepath.FromSlash(f.Source.Host)), nil
	}
	if in.BinDir == "" {
		return "", fmt.Errorf("image file %s is built from %s, but no BinDir was given", f.Path, f.Source.Package)
	}
	return filepath.Join(in.BinDir, path.Base(f.Path)), nil
}

// tarMode turns a Go file mode into the Unix mode bits a tar header carries.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}
