// SPDX-License-Identifier: Apache-2.0

package image

import (
	"archive/tar"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/distribution/reference"
	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// fakeInputs writes small fake binaries (named after their image file) and a fake CA
// bundle, so images build in milliseconds; the content names the file, so a mix-up shows.
func fakeInputs(t *testing.T, specs ...Spec) (Inputs, map[string]string) {
	t.Helper()
	in := Inputs{BinDir: t.TempDir(), HostRoot: t.TempDir()}
	content := map[string]string{}
	for _, s := range specs {
		for _, f := range s.Files {
			switch {
			case f.Source.Package != "":
				content[f.Path] = "fake binary of " + f.Source.Package + "\n"
				writeFile(t, filepath.Join(in.BinDir, path.Base(f.Path)), content[f.Path])
			case f.Source.Host != "":
				content[f.Path] = "fake host file " + f.Source.Host + "\n"
				writeFile(t, filepath.Join(in.HostRoot, f.Source.Host), content[f.Path])
			case f.Source.Text != "":
				content[f.Path] = f.Source.Text
			}
		}
	}
	return in, content
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func digestOf(t *testing.T, spec Spec, in Inputs) v1.Hash {
	t.Helper()
	img, err := Build(spec, in)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	h, err := img.Digest()
	if err != nil {
		t.Fatalf("Digest: %v", err)
	}
	return h
}

// TestBuildIsReproducible builds twice from the same inputs, with the host files' times
// and modes changed in between, and wants the same digest; a changed input must change it.
func TestBuildIsReproducible(t *testing.T) {
	spec := SelkieSpec()
	in, _ := fakeInputs(t, spec)
	first := digestOf(t, spec, in)

	bin := filepath.Join(in.BinDir, "selkie-server")
	if err := os.Chtimes(bin, time.Now(), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(bin, 0o700); err != nil {
		t.Fatal(err)
	}
	if second := digestOf(t, spec, in); second != first {
		t.Errorf("second build has digest %s, first %s: the image depends on more than its inputs", second, first)
	}

	writeFile(t, bin, "another binary\n")
	if third := digestOf(t, spec, in); third == first {
		t.Errorf("a changed binary kept digest %s", first)
	}
	in.Created = time.Unix(1700000000, 0)
	if fourth := digestOf(t, spec, in); fourth == first {
		t.Errorf("a changed creation time kept digest %s", first)
	}
	// Two specs that differ only in where one link points.
	in.Created = time.Time{}
	withOther := func(target string) Spec {
		s := SelkieSpec()
		s.Files = append(s.Files, textFile("/usr/local/bin/other", "other\n"))
		for i, f := range s.Files {
			if f.Path == "/usr/local/bin/selkie" {
				s.Files[i].Source.Link = target
			}
		}
		return s
	}
	if a, b := digestOf(t, withOther("selkie-server"), in), digestOf(t, withOther("other"), in); a == b {
		t.Errorf("a changed link target kept digest %s", a)
	}
}

func TestBuildFailsWithoutSources(t *testing.T) {
	in, _ := fakeInputs(t, SelkieSpec())
	in.BinDir = t.TempDir()
	if _, err := Build(SelkieSpec(), in); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Build without binaries: err %v, want a not-exist error", err)
	}
	in.BinDir = ""
	if _, err := Build(SelkieSpec(), in); err == nil || !strings.Contains(err.Error(), "no BinDir") {
		t.Errorf("Build with no BinDir: err %v, want it to say so", err)
	}
}

// TestOCITarballRoundTrip writes the Selkie image under two names and the pause image,
// reads the tarball back with go-containerregistry's layout reader and checks the index
// annotations, the configs and every layer entry against the Specs.
func TestOCITarballRoundTrip(t *testing.T) {
	specs := map[string]Spec{"selkie:dev": SelkieSpec(), "selkie:dev2": SelkieSpec(), "selkie-pause:1": PauseSpec()}
	in, content := fakeInputs(t, SelkieSpec(), PauseSpec())
	images := map[string]v1.Image{}
	for name, spec := range specs {
		img, err := Build(spec, in)
		if err != nil {
			t.Fatalf("Build %s: %v", name, err)
		}
		images[name] = img
	}
	tarPath := filepath.Join(t.TempDir(), "out", "image.tar")
	if err := WriteOCITarball(tarPath, images); err != nil {
		t.Fatalf("WriteOCITarball: %v", err)
	}
	index := readLayout(t, tarPath)

	manifest, err := index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(manifest.Manifests) != len(specs) {
		t.Fatalf("index.json has %d manifests, want %d", len(manifest.Manifests), len(specs))
	}
	digests := map[string]v1.Hash{}
	for _, desc := range manifest.Manifests {
		name := checkAnnotations(t, desc)
		digests[name] = desc.Digest
		spec, ok := specs[name]
		if !ok {
			t.Errorf("index.json names %q, which was not written", name)
			continue
		}
		if desc.MediaType != types.OCIManifestSchema1 {
			t.Errorf("%s: media type %s, want %s", name, desc.MediaType, types.OCIManifestSchema1)
		}
		if desc.Platform == nil || desc.Platform.OS != "linux" || desc.Platform.Architecture != runtime.GOARCH {
			t.Errorf("%s: platform %v, want linux/%s", name, desc.Platform, runtime.GOARCH)
		}
		img, err := index.Image(desc.Digest)
		if err != nil {
			t.Fatalf("%s: read image %s: %v", name, desc.Digest, err)
		}
		// Digests, sizes and diff IDs agree with the bytes in the tarball.
		if err := validate.Image(img); err != nil {
			t.Errorf("%s: invalid image: %v", name, err)
		}
		checkConfig(t, name, img, spec)
		checkLayer(t, name, img, spec, content)
	}
	if d1, d2 := digests["selkie:dev"], digests["selkie:dev2"]; d1 != d2 || d1 == digests["selkie-pause:1"] {
		t.Errorf("selkie:dev and selkie:dev2 point at %s and %s, want one image (not the pause image)", d1, d2)
	}
}

// readLayout unpacks the tarball as ctr would read it and opens it as an OCI layout.
func readLayout(t *testing.T, tarPath string) v1.ImageIndex {
	t.Helper()
	f, err := os.Open(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	tr := tar.NewReader(f)
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read tarball: %v", err)
		}
		names = append(names, hdr.Name)
		target := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		if hdr.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, target, string(data))
	}
	if len(names) < 2 || names[0] != "oci-layout" || names[1] != "index.json" {
		t.Errorf("tarball starts with %q, want oci-layout, index.json", names)
	}
	index, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("open the unpacked tarball as an OCI layout: %v", err)
	}
	return index
}

// checkAnnotations wants both naming annotations to hold the same fully qualified name,
// and returns that name in the short form it was written with.
func checkAnnotations(t *testing.T, desc v1.Descriptor) string {
	t.Helper()
	full := desc.Annotations[AnnotationImageName]
	if ref := desc.Annotations[AnnotationRefName]; ref != full {
		t.Errorf("annotations name %q and %q, want the same qualified name", full, ref)
	}
	named, err := reference.ParseNormalizedNamed(full)
	if err != nil {
		t.Fatalf("annotation %s=%q: %v", AnnotationImageName, full, err)
	}
	if named.String() != full || reference.Domain(named) == "" {
		t.Errorf("annotation %s=%q is not fully qualified", AnnotationImageName, full)
	}
	return reference.FamiliarString(named)
}

func checkConfig(t *testing.T, name string, img v1.Image, spec Spec) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatalf("%s: config: %v", name, err)
	}
	got := Config{User: cf.Config.User, Env: cf.Config.Env, Entrypoint: cf.Config.Entrypoint, Cmd: cf.Config.Cmd}
	if diff := cmp.Diff(spec.Config, got); diff != "" {
		t.Errorf("%s: config differs from the Spec (-want +got):\n%s", name, diff)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH || !cf.Created.Equal(time.Unix(0, 0)) {
		t.Errorf("%s: config os %q arch %q created %v, want linux, %s, the epoch", name, cf.OS, cf.Architecture, cf.Created.Time, runtime.GOARCH)
	}
}

// checkLayer reads the single layer's tar back into File values (with the bytes as Text)
// and compares them, in order, with the Spec.
func checkLayer(t *testing.T, name string, img v1.Image, spec Spec, content map[string]string) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%s: %d layers (err %v), want 1", name, len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got []File
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: read layer: %v", name, err)
		}
		if !hdr.ModTime.Equal(time.Unix(0, 0)) || hdr.Uname != "" || hdr.Gname != "" {
			t.Errorf("%s: %s has time %v, owner names %q:%q; want the epoch and none", name, hdr.Name, hdr.ModTime, hdr.Uname, hdr.Gname)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		src := Source{Text: string(data)}
		if hdr.Typeflag == tar.TypeSymlink {
			src = Source{Link: hdr.Linkname}
		}
		if hdr.Typeflag == tar.TypeSymlink && (hdr.Size != 0 || hdr.Mode != 0o777 || len(data) != 0) {
			t.Errorf("%s: link %s has size %d, mode %o, %d bytes; want 0, 777, none", name, hdr.Name, hdr.Size, hdr.Mode, len(data))
		}
		got = append(got, File{
			Path: "/" + strings.TrimSuffix(hdr.Name, "/"), Mode: hdr.FileInfo().Mode(),
			UID: hdr.Uid, GID: hdr.Gid, Source: src,
		})
	}
	var want []File
	for _, f := range spec.sorted().Files {
		if f.Source.Link == "" {
			f.Source = Source{Text: content[f.Path]}
		}
		want = append(want, f)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: layer differs from the Spec (-want +got):\n%s", name, diff)
	}
}

// TestLayerLinksResolve unpacks the Selkie image's layer as a runtime would and runs
// nothing, but reads each name the Deployments and CMD run through its link: all three
// reach selkie-server's bytes, and the links stay links.
func TestLayerLinksResolve(t *testing.T) {
	spec := SelkieSpec()
	in, content := fakeInputs(t, spec)
	img, err := Build(spec, in)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers (err %v), want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	root := t.TempDir()
	tr := tar.NewReader(rc)
	links := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read layer: %v", err)
		}
		target := filepath.Join(root, filepath.FromSlash(hdr.Name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o755)
		case tar.TypeSymlink:
			links++
			err = os.Symlink(hdr.Linkname, target)
		case tar.TypeReg:
			var data []byte
			if data, err = io.ReadAll(tr); err == nil {
				err = os.WriteFile(target, data, 0o600)
			}
		default:
			t.Fatalf("%s: unexpected tar entry type %q", hdr.Name, hdr.Typeflag)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if links != 3 {
		t.Errorf("the layer has %d symbolic links, want 3", links)
	}
	server := content["/usr/local/bin/selkie-server"]
	for _, name := range []string{"selkie", "selkie-supervisor", "selkie-concierge"} {
		p := filepath.Join(root, "usr", "local", "bin", name)
		if fi, err := os.Lstat(p); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("%s: %v, mode %v; want a symbolic link", name, err, fi)
			continue
		}
		if data, err := os.ReadFile(p); err != nil || string(data) != server {
			t.Errorf("%s reads %q (err %v), want selkie-server's %q", name, data, err, server)
		}
	}
}
