// SPDX-License-Identifier: Apache-2.0

// Package concierge builds the selkie-concierge server command: the Selkie credential
// exchange API of a workload cluster.
package concierge

import (
	"github.com/spf13/cobra"

	buildinfo "github.com/selkie-dev/selkie/pkg/version"
	"github.com/selkie-dev/selkie/pkg/version/versioncmd"
)

// NewCommand returns the root selkie-concierge command.
func NewCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:           "selkie-concierge",
		Short:         "Run the Selkie credential exchange API of a workload cluster",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.AddCommand(versioncmd.NewCommand("selkie-concierge", buildinfo.Get), newServeCommand())
	return cmd
}
