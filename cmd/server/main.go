// SPDX-License-Identifier: Apache-2.0

// Command selkie-server is the image's one program: the supervisor, the concierge and
// the CLI in a single binary, so that the Kubernetes libraries they share are in the
// image once. It takes its role from the name it runs as (the image links
// selkie-supervisor, selkie-concierge and selkie to it) or, run as selkie-server, from
// its first argument: `selkie-server supervisor serve …`. The command trees live in
// pkg/supervisor, pkg/concierge and pkg/cli; cmd/cli builds the CLI alone for
// workstations.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/selkie-dev/selkie/pkg/cli"
	"github.com/selkie-dev/selkie/pkg/concierge"
	"github.com/selkie-dev/selkie/pkg/supervisor"
)

// role returns the command tree of the role the binary answers to as name (its argv[0]),
// or nil.
func role(name string) func() *cobra.Command {
	switch name {
	case "selkie-supervisor":
		return supervisor.NewCommand
	case "selkie-concierge":
		return concierge.NewCommand
	case "selkie":
		return cli.NewCommand
	}
	return nil
}

// alias is the role name of selkie-server's first argument (supervisor, concierge or
// cli), or "".
func alias(arg string) string {
	switch arg {
	case "supervisor", "concierge":
		return "selkie-" + arg
	case "cli":
		return "selkie"
	}
	return ""
}

func main() {
	cmd, args, err := command(os.Args)
	if err == nil {
		cmd.SetArgs(args)
		err = cmd.Execute()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

// command picks the role's command tree and the arguments it gets.
func command(argv []string) (*cobra.Command, []string, error) {
	name := "selkie-server"
	if len(argv) > 0 {
		name = strings.TrimSuffix(filepath.Base(argv[0]), ".exe")
	}
	if newCmd := role(name); newCmd != nil {
		return newCmd(), argv[1:], nil
	}
	usage := fmt.Sprintf("run as selkie-supervisor, selkie-concierge or selkie (links to this program), or as %s supervisor|concierge|cli [arguments]", name)
	if len(argv) < 2 {
		return nil, nil, fmt.Errorf("no role given: %s", usage)
	}
	as := alias(argv[1])
	if as == "" {
		return nil, nil, fmt.Errorf("unknown role %q: %s", argv[1], usage)
	}
	c := role(as)()
	// Help and usage lines then read `selkie-server supervisor serve …`, the way this
	// program is run, while the command keeps its own name.
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[cobra.CommandDisplayNameAnnotation] = name + " " + argv[1]
	return c, argv[2:], nil
}
