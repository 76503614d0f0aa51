// SPDX-License-Identifier: Apache-2.0

package image

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/distribution/reference"
	"github.com/google/go-cmp/cmp"
)

func TestSpecsAreValid(t *testing.T) {
	for name, s := range map[string]Spec{"selkie": SelkieSpec(), "pause": PauseSpec()} {
		if err := s.Validate(); err != nil {
			t.Errorf("%sSpec: %v", name, err)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	ok := func() Spec {
		return Spec{Files: []File{
			dir("/etc", 0o755, 0),
			textFile("/etc/group", "g\n"),
		}}
	}
	tests := []struct {
		name   string
		change func(*Spec)
		want   string
	}{
		{"relative path", func(s *Spec) { s.Files[1].Path = "etc/group" }, "absolute"},
		{"unclean path", func(s *Spec) { s.Files[1].Path = "/etc/../etc/group" }, "absolute"},
		{"root", func(s *Spec) { s.Files[0].Path = "/" }, "absolute"},
		{"duplicate", func(s *Spec) { s.Files = append(s.Files, s.Files[1]) }, "twice"},
		{"missing parent", func(s *Spec) { s.Files = s.Files[1:] }, "parent /etc"},
		{"parent is a file", func(s *Spec) { s.Files[0] = textFile("/etc", "x") }, "parent /etc"},
		{"symlink mode", func(s *Spec) { s.Files[1].Mode |= fs.ModeSymlink }, "unsupported mode"},
		{"setuid", func(s *Spec) { s.Files[1].Mode |= fs.ModeSetuid }, "unsupported mode"},
		{"negative owner", func(s *Spec) { s.Files[1].UID = -1 }, "negative owner"},
		{"no source", func(s *Spec) { s.Files[1].Source = Source{} }, "0 sources"},
		{"two sources", func(s *Spec) { s.Files[1].Source.Host = "/etc/group" }, "2 sources"},
		{"directory with source", func(s *Spec) { s.Files[0].Source.Text = "x" }, "has a source"},
	}
	if err := ok().Validate(); err != nil {
		t.Fatalf("base spec: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok()
			tt.change(&s)
			if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestPrograms(t *testing.T) {
	want := []Program{
		{Name: "selkie", Package: modulePath + "/cmd/cli"},
		{Name: "selkie-concierge", Package: modulePath + "/cmd/concierge"},
		{Name: "selkie-supervisor", Package: modulePath + "/cmd/supervisor"},
	}
	if diff := cmp.Diff(want, SelkieSpec().Programs()); diff != "" {
		t.Errorf("SelkieSpec().Programs() (-want +got):\n%s", diff)
	}
}

// TestNormalizeName checks names through their familiar form, since the default
// registry is the library's to know, not ours.
func TestNormalizeName(t *testing.T) {
	tests := []struct {
		name, wantFamiliar string
	}{
		{"selkie:dev", "selkie:dev"},
		{"selkie", "selkie:latest"},
		{"selkie-pause:1", "selkie-pause:1"},
		{"team/selkie:v0.1.0", "team/selkie:v0.1.0"},
	}
	for _, tt := range tests {
		full, err := NormalizeName(tt.name)
		if err != nil {
			t.Errorf("NormalizeName(%q): %v", tt.name, err)
			continue
		}
		named, err := reference.ParseNormalizedNamed(full)
		if err != nil {
			t.Errorf("NormalizeName(%q) = %q, which does not parse: %v", tt.name, full, err)
			continue
		}
		if named.String() != full || reference.Domain(named) == "" || full == tt.name {
			t.Errorf("NormalizeName(%q) = %q, not fully qualified", tt.name, full)
		}
		if got := reference.FamiliarString(named); got != tt.wantFamiliar {
			t.Errorf("NormalizeName(%q) = %q, familiar %q, want %q", tt.name, full, got, tt.wantFamiliar)
		}
	}
	for _, bad := range []string{"", "Selkie:dev", "selkie:dev:dev", "selkie@sha256:" + strings.Repeat("a", 64)} {
		if full, err := NormalizeName(bad); err == nil {
			t.Errorf("NormalizeName(%q) = %q, want an error", bad, full)
		}
	}
}
