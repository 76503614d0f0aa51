// SPDX-License-Identifier: Apache-2.0

// Command gendocs writes the reference documentation derived from the code: one
// Markdown file per command of the selkie, selkie-supervisor and selkie-concierge
// command trees (<out>/cli/), and the API reference of every concierge and supervisor
// kind (<out>/api.md) from the generated CRDs and the aggregated APIs' OpenAPI
// definitions. The output depends only on the code: no dates, and flag defaults that
// depend on the machine (home and temp directories) are written as placeholders.
//
// Run it through hack/update-docs.sh; hack/verify-docs.sh checks the tree against it.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	out := flag.String("out", "docs/reference", "directory to write cli/ and api.md into")
	crds := flag.String("crds", "generated/crds", "directory of the generated CRD YAML files")
	flag.Parse()
	if err := run(*out, *crds); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

func run(out, crdDir string) error {
	// The default cache paths follow XDG_CONFIG_HOME when it is set; document the
	// default without it ($HOME/.config/selkie/...).
	if err := os.Unsetenv("XDG_CONFIG_HOME"); err != nil {
		return err
	}
	cliFiles, err := renderCLI(rootCommands(), newNormalizer())
	if err != nil {
		return err
	}
	if err := writeDir(filepath.Join(out, "cli"), cliFiles); err != nil {
		return err
	}
	api, err := renderAPI(crdDir)
	if err != nil {
		return err
	}
	return writeDir(out, map[string][]byte{"api.md": api})
}
