// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestRenderCLIWritesAPagePerCommand(t *testing.T) {
	files, err := renderCLI(rootCommands(), normalizer{})
	if err != nil {
		t.Fatal(err)
	}
	index := string(files["README.md"])
	want := map[string]bool{"README.md": true}
	for _, root := range rootCommands() {
		walk(root, func(cmd *cobra.Command, _ int) {
			name := fileName(cmd)
			want[name] = true
			if _, ok := files[name]; !ok {
				t.Errorf("no page for %q (%s)", cmd.CommandPath(), name)
			}
			if !strings.Contains(index, "("+name+")") {
				t.Errorf("README.md does not link %s", name)
			}
		})
	}
	for name := range files {
		if !want[name] {
			t.Errorf("page %s for no command", name)
		}
	}
	for _, name := range []string{"selkie_login_oidc.md", "selkie_get_kubeconfig.md", "selkie-supervisor_serve.md", "selkie-concierge_serve.md"} {
		if !want[name] {
			t.Errorf("expected command page %s is missing", name)
		}
	}
}

func TestRenderCLIPageContent(t *testing.T) {
	files, err := renderCLI(rootCommands(), normalizer{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		page string
		want []string
	}{
		{"selkie_login_oidc.md", []string{
			"# selkie login oidc\n",
			"selkie login oidc --issuer URL [flags]",
			"| `--client-id` | string | `\"pinniped-cli\"` | OAuth client ID |",
			"| `--listen-port` | int |  |", // a zero default is left out
			"- [selkie login](selkie_login.md)",
		}},
		{"selkie_login.md", []string{
			"## Subcommands",
			"- [selkie login oidc](selkie_login_oidc.md)",
			"- [selkie login static](selkie_login_static.md)",
		}},
		{"selkie-supervisor_serve.md", []string{
			"| `--https-address` | string | `\":8443\"` |",
			"| `--session-lifetime` | duration | `9h0m0s` |",
		}},
		{"selkie-concierge_serve.md", []string{
			"| `--impersonation-proxy` | bool | `true` |",
			"| `--impersonation-proxy-service-selector` | stringToString | `[app=selkie-concierge]` |",
		}},
		{"selkie_version.md", []string{"| `-o`, `--output` | string | `\"text\"` |"}},
	}
	for _, tt := range tests {
		t.Run(tt.page, func(t *testing.T) {
			got := string(files[tt.page])
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("%s lacks %q; it is:\n%s", tt.page, w, got)
				}
			}
		})
	}
}

func TestRenderCLINormalizesMachineDefaults(t *testing.T) {
	home := filepath.Join(t.TempDir(), "someone")
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	files, err := renderCLI(rootCommands(), newNormalizer())
	if err != nil {
		t.Fatal(err)
	}
	page := string(files["selkie_login_oidc.md"])
	if want := "`\"$HOME/.config/selkie/sessions.yaml\"`"; !strings.Contains(page, want) {
		t.Errorf("page lacks %s:\n%s", want, page)
	}
	for name, content := range files {
		if bytes.Contains(content, []byte(home)) {
			t.Errorf("%s contains the home directory %s", name, home)
		}
	}
}

func TestRenderCLIIsDeterministic(t *testing.T) {
	first, err := renderCLI(rootCommands(), newNormalizer())
	if err != nil {
		t.Fatal(err)
	}
	second, err := renderCLI(rootCommands(), newNormalizer())
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range first {
		if !bytes.Equal(content, second[name]) {
			t.Errorf("%s differs between two runs", name)
		}
	}
}

func TestReplacePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"prefix", "/home/a/.config/x", "$HOME/.config/x"},
		{"whole", "/home/a", "$HOME"},
		{"quoted", `"/home/a" and /home/a/b`, `"$HOME" and $HOME/b`},
		{"longer name", "/home/ab/x", "/home/ab/x"},
		{"not present", "/etc/x", "/etc/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := replacePath(tt.in, "/home/a", "$HOME"); got != tt.want {
				t.Errorf("replacePath(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
