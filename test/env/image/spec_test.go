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
			symlink("/etc/group-link", "group"),
		}}
	}
	const link = 2
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
		{"file with symlink mode", func(s *Spec) { s.Files[1].Mode |= fs.ModeSymlink }, "symbolic link /etc/group has mode"},
		{"symlink not 0777", func(s *Spec) { s.Files[link].Mode = fs.ModeSymlink | 0o755 }, "has mode"},
		{"symlink and directory", func(s *Spec) { s.Files[link].Mode |= fs.ModeDir }, "has mode"},
		{"symlink without target", func(s *Spec) { s.Files[link].Source = Source{} }, "needs a link target"},
		{"symlink with bytes", func(s *Spec) { s.Files[link].Source = Source{Text: "group"} }, "needs a link target"},
		{"symlink with two sources", func(s *Spec) { s.Files[link].Source.Host = "/etc/group" }, "needs a link target"},
		{"file with a link target", func(s *Spec) { s.Files[1].Source = Source{Link: "group-link"} }, "not a symbolic link"},
		{"file with a link target and bytes", func(s *Spec) { s.Files[1].Source.Link = "x" }, "not a symbolic link"},
		{"directory with a link target", func(s *Spec) { s.Files[0].Source.Link = "x" }, "has a source"},
		{"absolute link", func(s *Spec) { s.Files[link].Source.Link = "/etc/group" }, "want the name of a file in /etc"},
		{"link into a subdirectory", func(s *Spec) { s.Files[link].Source.Link = "ssl/group" }, "want the name of a file"},
		{"link up", func(s *Spec) { s.Files[link].Source.Link = "../etc/group" }, "want the name of a file"},
		{"link to its directory", func(s *Spec) { s.Files[link].Source.Link = "." }, "want the name of a file"},
		{"link to the parent", func(s *Spec) { s.Files[link].Source.Link = ".." }, "want the name of a file"},
		{"dangling link", func(s *Spec) { s.Files[link].Source.Link = "passwd" }, "not a regular file of the image"},
		{"link to itself", func(s *Spec) { s.Files[link].Source.Link = "group-link" }, "not a regular file of the image"},
		{"link to a link", func(s *Spec) {
			s.Files = append(s.Files, symlink("/etc/group-link2", "group-link"))
		}, "not a regular file of the image"},
		{"link to a directory", func(s *Spec) {
			s.Files = append(s.Files, dir("/etc/ssl", 0o755, 0))
			s.Files[link].Source.Link = "ssl"
		}, "not a regular file of the image"},
		{"link without its directory", func(s *Spec) { s.Files = s.Files[1:] }, "parent /etc"},
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

// TestSelkieSpecLinks wants the names the Deployments and CMD run (selkie-supervisor,
// selkie-concierge, selkie) to be links to the one program, and cmd/server to answer to
// each of them by name.
func TestSelkieSpecLinks(t *testing.T) {
	links := map[string]string{}
	for _, f := range SelkieSpec().Files {
		if f.Mode&fs.ModeSymlink != 0 {
			links[f.Path] = f.Source.Link
		}
	}
	want := map[string]string{
		"/usr/local/bin/selkie":            "selkie-server",
		"/usr/local/bin/selkie-concierge":  "selkie-server",
		"/usr/local/bin/selkie-supervisor": "selkie-server",
	}
	if diff := cmp.Diff(want, links); diff != "" {
		t.Errorf("SelkieSpec's symbolic links (-want +got):\n%s", diff)
	}
	if cmd := SelkieSpec().Config.Cmd; len(cmd) == 0 || want["/usr/local/bin/"+cmd[0]] == "" {
		t.Errorf("CMD %q does not run one of the links", cmd)
	}
}

func TestPrograms(t *testing.T) {
	want := []Program{{Name: "selkie-server", Package: modulePath + "/cmd/server"}}
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
