// SPDX-License-Identifier: Apache-2.0

// Package versioncmd implements the `version` command shared by the selkie CLI and the
// selkie-supervisor and selkie-concierge servers.
package versioncmd

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/selkie-dev/selkie/pkg/version"
)

type flagpole struct {
	output string
}

// NewCommand returns a `version` command that prints the build of the named binary.
func NewCommand(binary string, get func() version.Info) *cobra.Command {
	flags := &flagpole{}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of " + binary,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.OutOrStdout(), binary, get(), flags)
		},
	}
	cmd.Flags().StringVarP(&flags.output, "output", "o", "text", "output format: text, yaml or json")
	return cmd
}

func run(out io.Writer, binary string, info version.Info, flags *flagpole) error {
	switch flags.output {
	case "text":
		_, err := fmt.Fprintf(out, "%s %s\n", binary, info)
		return err
	case "json":
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	case "yaml":
		b, err := yaml.Marshal(info)
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	default:
		return fmt.Errorf("unknown output format %q: use text, yaml or json", flags.output)
	}
}
