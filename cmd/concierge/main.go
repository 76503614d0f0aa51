// SPDX-License-Identifier: Apache-2.0

// Command selkie-concierge runs the Selkie credential exchange API of a workload cluster. The command tree lives in pkg/concierge.
package main

import (
	"fmt"
	"os"

	"github.com/selkie-dev/selkie/pkg/concierge"
)

func main() {
	if err := concierge.NewCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}
