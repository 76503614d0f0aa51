// SPDX-License-Identifier: Apache-2.0

//go:build integration

package image

import (
	"io"
	"io/fs"
	"runtime"
	"testing"
)

// BenchmarkSelkieImage builds the Selkie image as `make image` does and reports the size
// of its one layer (uncompressed, as the nodes store it) and how many programs it holds;
// the goal is one multi-call server program and at most 90 MiB. Its integration tag keeps
// the build of selkie-server (a minute cold) out of the unit tier; `make bench` runs it.
func BenchmarkSelkieImage(b *testing.B) {
	spec := SelkieSpec()
	dir := b.TempDir()
	if err := BuildPrograms(b.Context(), dir, "bench", runtime.GOARCH, b.Output(), spec); err != nil {
		b.Fatal(err)
	}
	in := Inputs{BinDir: dir, Arch: runtime.GOARCH}
	var size, compressed int64
	for b.Loop() {
		img, err := Build(spec, in)
		if err != nil {
			b.Fatal(err)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != 1 {
			b.Fatalf("layers: %d, %v", len(layers), err)
		}
		if compressed, err = layers[0].Size(); err != nil {
			b.Fatal(err)
		}
		rc, err := layers[0].Uncompressed()
		if err != nil {
			b.Fatal(err)
		}
		size, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	programs := 0
	for _, f := range spec.Files {
		if f.Mode&fs.ModeType == 0 && f.Source.Package != "" {
			programs++
		}
	}
	b.ReportMetric(float64(size)/(1<<20), "image-MiB")
	b.ReportMetric(float64(compressed)/(1<<20), "image-gzip-MiB")
	b.ReportMetric(float64(programs), "programs")
}
