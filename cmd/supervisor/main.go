// SPDX-License-Identifier: Apache-2.0

// Command selkie-supervisor runs the Selkie OpenID Connect provider of the management cluster. The command tree lives in pkg/supervisor.
package main

import (
	"fmt"
	"os"

	"github.com/selkie-dev/selkie/pkg/supervisor"
)

func main() {
	if err := supervisor.NewCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}
