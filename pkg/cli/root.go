// SPDX-License-Identifier: Apache-2.0

// Package cli builds the `selkie` command tree. Each command lives in its own package
// below this one and is wired here; nothing in this package holds global state.
package cli

import (
	"github.com/spf13/cobra"

	"github.com/selkie-dev/selkie/pkg/cli/kubeconfig"
	"github.com/selkie-dev/selkie/pkg/cli/logincmd"
	"github.com/selkie-dev/selkie/pkg/cli/logout"
	"github.com/selkie-dev/selkie/pkg/cli/whoami"
	buildinfo "github.com/selkie-dev/selkie/pkg/version"
	"github.com/selkie-dev/selkie/pkg/version/versioncmd"
)

// NewCommand returns the root `selkie` command.
func NewCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:           "selkie",
		Short:         "Single sign-on for kubectl across many Kubernetes clusters",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	get := &cobra.Command{Use: "get", Short: "Generate configuration for clusters", Args: cobra.NoArgs}
	get.AddCommand(kubeconfig.NewCommand(kubeconfig.DefaultDeps()))
	cmd.AddCommand(versioncmd.NewCommand("selkie", buildinfo.Get), logincmd.NewCommand(logincmd.DefaultDeps()), whoami.NewCommand(), logout.NewCommand(), get)
	return cmd
}
