// SPDX-License-Identifier: Apache-2.0

// Package supervisor builds the selkie-supervisor server command: the Selkie OpenID Connect provider of the management cluster.
package supervisor

import (
	"github.com/spf13/cobra"

	"github.com/selkie-dev/selkie/pkg/cli/version"
	buildinfo "github.com/selkie-dev/selkie/pkg/version"
)

// NewCommand returns the root selkie-supervisor command.
func NewCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:           "selkie-supervisor",
		Short:         "Run the Selkie OpenID Connect provider of the management cluster",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.AddCommand(version.NewCommand("selkie-supervisor", buildinfo.Get), newServeCommand())
	return cmd
}
