// SPDX-License-Identifier: Apache-2.0

// Command selkie is the Selkie CLI: it writes kubeconfigs and is kubectl's exec
// credential plugin. The command tree lives in pkg/cli.
package main

import (
	"fmt"
	"os"

	"github.com/selkie-dev/selkie/pkg/cli"
)

func main() {
	if err := cli.NewCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}
