// SPDX-License-Identifier: Apache-2.0

// Package supervisor builds the selkie-supervisor server command: the Selkie OpenID Connect provider of the management cluster.
package supervisor

import (
	"github.com/spf13/cobra"

	buildinfo "github.com/selkie-dev/selkie/pkg/version"
	"github.com/selkie-dev/selkie/pkg/version/versioncmd"
)

// NewCommand returns the root selkie-supervisor command.
func NewCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:           "selkie-supervisor",
		Short:         "Run the Selkie OpenID Connect provider of the management cluster",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.AddCommand(versioncmd.NewCommand("selkie-supervisor", buildinfo.Get), newServeCommand())
	return cmd
}
