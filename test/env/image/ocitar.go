// SPDX-License-Identifier: Apache-2.0

package image

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The annotations on index.json's manifest descriptors that name the images an importer
// creates. containerd 2.4 (client/import.go and core/transfer/image/imagestore.go, both
// used by `ctr images import`) takes AnnotationImageName first and falls back to
// AnnotationRefName. Both carry the fully qualified name (NormalizeName): containerd then
// uses it as is, whichever it reads, instead of putting a bare tag under a made-up
// import-<date> repository; a qualified name is valid in the OCI ref.name grammar.
const (
	AnnotationImageName = "io.containerd.image.name"
	AnnotationRefName   = "org.opencontainers.image.ref.name"
)

// blob is one file under blobs/sha256 of the layout.
type blob struct {
	size int64
	open func() (io.ReadCloser, error)
}

// WriteOCITarball writes images as an OCI image-layout tarball at path, replacing it only
// once it is complete. images maps a name such as selkie:dev to its image; several names
// may share one image (their blobs are written once).
func WriteOCITarball(path string, images map[string]v1.Image) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create the directory for %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("create a temporary file for %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := WriteOCILayout(tmp, images); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// CreateTemp makes the file 0600; the tarball holds nothing secret.
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}

// WriteOCILayout writes images as an OCI image layout in tar form to w: oci-layout,
// index.json with one manifest descriptor per name (sorted, annotated with the qualified
// name and the image's platform), then each blob once in digest order. Headers carry a
// fixed time, so the same images give the same bytes.
func WriteOCILayout(w io.Writer, images map[string]v1.Image) error {
	index, blobs, err := collect(images)
	if err != nil {
		return err
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return fmt.Errorf("encode index.json: %w", err)
	}
	tw := tar.NewWriter(w)
	if err := writeBytes(tw, "oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := writeBytes(tw, "index.json", indexJSON); err != nil {
		return err
	}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(layoutHeader(d, tar.TypeDir, 0)); err != nil {
			return fmt.Errorf("write %s: %w", d, err)
		}
	}
	digests := make([]v1.Hash, 0, len(blobs))
	for h := range blobs {
		digests = append(digests, h)
	}
	slices.SortFunc(digests, func(a, b v1.Hash) int { return strings.Compare(a.String(), b.String()) })
	for _, h := range digests {
		if err := writeBlob(tw, h, blobs[h]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("finish the layout tar: %w", err)
	}
	return nil
}

// collect builds index.json and the set of blobs the named images need.
func collect(images map[string]v1.Image) (v1.IndexManifest, map[v1.Hash]blob, error) {
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	blobs := map[v1.Hash]blob{}
	if len(images) == 0 {
		return index, nil, fmt.Errorf("no images to write")
	}
	qualified := map[string]string{}
	for name, img := range images {
		full, err := NormalizeName(name)
		if err != nil {
			return index, nil, err
		}
		if other, dup := qualified[full]; dup {
			return index, nil, fmt.Errorf("image names %q and %q are the same image name %s", other, name, full)
		}
		qualified[full] = name
		desc, err := addImage(img, blobs)
		if err != nil {
			return index, nil, fmt.Errorf("image %s: %w", name, err)
		}
		desc.Annotations = map[string]string{AnnotationImageName: full, AnnotationRefName: full}
		index.Manifests = append(index.Manifests, desc)
	}
	slices.SortFunc(index.Manifests, func(a, b v1.Descriptor) int {
		return strings.Compare(a.Annotations[AnnotationImageName], b.Annotations[AnnotationImageName])
	})
	return index, blobs, nil
}

// addImage adds img's manifest, config and layers to blobs and returns the manifest's
// descriptor with the platform from the config, which containerd filters imports by.
func addImage(img v1.Image, blobs map[v1.Hash]blob) (v1.Descriptor, error) {
	manifest, err := img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("read manifest: %w", err)
	}
	mediaType, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("read manifest media type: %w", err)
	}
	digest, _, err := v1.SHA256(bytes.NewReader(manifest))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("digest manifest: %w", err)
	}
	// Only what an importer needs, as containerd's own exporter writes it; not the
	// artifactType that go-containerregistry's partial.Descriptor adds.
	desc := v1.Descriptor{MediaType: mediaType, Size: int64(len(manifest)), Digest: digest}
	config, err := img.RawConfigFile()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("read config: %w", err)
	}
	configName, err := img.ConfigName()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("digest config: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("decode config: %w", err)
	}
	blobs[desc.Digest] = bytesBlob(manifest)
	blobs[configName] = bytesBlob(config)
	layers, err := img.Layers()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("list layers: %w", err)
	}
	for _, l := range layers {
		h, err := l.Digest()
		if err != nil {
			return v1.Descriptor{}, fmt.Errorf("digest layer: %w", err)
		}
		size, err := l.Size()
		if err != nil {
			return v1.Descriptor{}, fmt.Errorf("size layer %s: %w", h, err)
		}
		blobs[h] = blob{size: size, open: l.Compressed}
	}
	desc.Platform = &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	return desc, nil
}

func bytesBlob(b []byte) blob {
	return blob{size: int64(len(b)), open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}}
}

func writeBlob(tw *tar.Writer, h v1.Hash, b blob) error {
	name := "blobs/" + h.Algorithm + "/" + h.Hex
	rc, err := b.open()
	if err != nil {
		return fmt.Errorf("open blob %s: %w", h, err)
	}
	defer rc.Close()
	if err := tw.WriteHeader(layoutHeader(name, tar.TypeReg, b.size)); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := io.CopyN(tw, rc, b.size); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func writeBytes(tw *tar.Writer, name string, data []byte) error {
	if err := tw.WriteHeader(layoutHeader(name, tar.TypeReg, int64(len(data)))); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func layoutHeader(name string, typ byte, size int64) *tar.Header {
	mode := int64(0o644)
	if typ == tar.TypeDir {
		mode = 0o755
	}
	return &tar.Header{Name: name, Typeflag: typ, Mode: mode, Size: size, ModTime: time.Unix(0, 0)}
}
