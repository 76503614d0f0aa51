// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCommandPicksTheRole(t *testing.T) {
	tests := []struct {
		argv []string
		// root is the command tree's own name, path the one help shows.
		root, path string
		args       []string
	}{
		{[]string{"/usr/local/bin/selkie-supervisor", "serve", "--namespace", "x"}, "selkie-supervisor", "selkie-supervisor", []string{"serve", "--namespace", "x"}},
		{[]string{"selkie-concierge", "serve"}, "selkie-concierge", "selkie-concierge", []string{"serve"}},
		{[]string{"selkie", "version"}, "selkie", "selkie", []string{"version"}},
		{[]string{"bin/selkie.exe"}, "selkie", "selkie", []string{}},
		{[]string{"/usr/local/bin/selkie-server", "supervisor", "serve"}, "selkie-supervisor", "selkie-server supervisor", []string{"serve"}},
		{[]string{"selkie-server", "concierge"}, "selkie-concierge", "selkie-server concierge", []string{}},
		{[]string{"./selkie-server", "cli", "get", "kubeconfig"}, "selkie", "selkie-server cli", []string{"get", "kubeconfig"}},
		// A copy under another name still takes its role from the first argument.
		{[]string{"/tmp/selkie-dev", "supervisor", "version"}, "selkie-supervisor", "selkie-dev supervisor", []string{"version"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.argv, " "), func(t *testing.T) {
			cmd, args, err := command(tt.argv)
			if err != nil {
				t.Fatalf("command: %v", err)
			}
			if cmd.Name() != tt.root || cmd.CommandPath() != tt.path {
				t.Errorf("command %q shown as %q, want %q shown as %q", cmd.Name(), cmd.CommandPath(), tt.root, tt.path)
			}
			if diff := cmp.Diff(tt.args, args); diff != "" {
				t.Errorf("arguments (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCommandRefusesUnknownRoles(t *testing.T) {
	tests := []struct {
		argv []string
		want string
	}{
		{[]string{"/usr/local/bin/selkie-server"}, `no role given: run as selkie-supervisor, selkie-concierge or selkie (links to this program), or as selkie-server supervisor|concierge|cli`},
		{[]string{"selkie-server", "serve"}, `unknown role "serve": run as selkie-supervisor`},
		{[]string{"selkie-server", "selkie-supervisor"}, `unknown role "selkie-supervisor"`},
		{[]string{"selkie-supervisor-old", "serve"}, `unknown role "serve": run as selkie-supervisor, selkie-concierge or selkie (links to this program), or as selkie-supervisor-old supervisor|concierge|cli`},
		{[]string{"selkie-server", "--help"}, `unknown role "--help"`},
		{nil, "no role given"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.argv, " "), func(t *testing.T) {
			cmd, _, err := command(tt.argv)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("command: %v (command %v), want an error containing %q", err, cmd, tt.want)
			}
		})
	}
}

// TestRolesRun runs each role's version command the ways the image runs them, and the
// help of a subcommand reached through selkie-server.
func TestRolesRun(t *testing.T) {
	tests := []struct {
		argv []string
		want string
	}{
		{[]string{"selkie-supervisor", "version"}, "selkie-supervisor "},
		{[]string{"selkie-concierge", "version"}, "selkie-concierge "},
		{[]string{"selkie", "version"}, "selkie "},
		{[]string{"selkie-server", "supervisor", "version"}, "selkie-supervisor "},
		{[]string{"selkie-server", "cli", "version", "-o", "json"}, `"version"`},
		{[]string{"selkie-server", "concierge", "serve", "--help"}, "selkie-server concierge serve [flags]"},
		{[]string{"selkie-server", "supervisor", "--help"}, "selkie-server supervisor [command]"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.argv, " "), func(t *testing.T) {
			cmd, args, err := command(tt.argv)
			if err != nil {
				t.Fatalf("command: %v", err)
			}
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetErr(&out)
			cmd.SetArgs(args)
			if err := cmd.Execute(); err != nil {
				t.Fatalf("Execute: %v\n%s", err, out.String())
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("output %q does not contain %q", out.String(), tt.want)
			}
		})
	}
}
