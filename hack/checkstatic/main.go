// SPDX-License-Identifier: Apache-2.0

// Command checkstatic fails unless every file named on its command line is a
// statically linked ELF executable: no program interpreter (PT_INTERP), no dynamic
// section (PT_DYNAMIC) and no needed shared libraries. It prints each file's size.
// It reads the ELF headers with debug/elf, so it needs no binutils; see
// hack/check-static.sh.
package main

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: checkstatic FILE...")
		os.Exit(2)
	}
	failed := false
	for _, path := range os.Args[1:] {
		size, problems, err := check(path)
		switch {
		case err != nil:
			fmt.Fprintf(os.Stderr, "check-static: FAIL: %s: %v\n", path, err)
			failed = true
		case len(problems) > 0:
			fmt.Fprintf(os.Stderr, "check-static: FAIL: %s is not static: %s\n", filepath.Base(path), strings.Join(problems, "; "))
			failed = true
		default:
			fmt.Printf("%-20s %6.1f MiB  static\n", filepath.Base(path), float64(size)/(1<<20))
		}
	}
	if failed {
		os.Exit(1)
	}
}

// check returns the file's size and what makes it dynamically linked, if anything.
func check(path string) (int64, []string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return 0, nil, err
	}
	f, err := elf.Open(path)
	if err != nil {
		return 0, nil, fmt.Errorf("read ELF: %w", err)
	}
	defer f.Close()
	return info.Size(), dynamicParts(f), nil
}

func dynamicParts(f *elf.File) []string {
	var problems []string
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			problems = append(problems, "has a program interpreter (PT_INTERP)")
		case elf.PT_DYNAMIC:
			problems = append(problems, "has a dynamic section (PT_DYNAMIC)")
		}
	}
	// Without a dynamic section ImportedLibraries reports an error, not libraries.
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		problems = append(problems, "needs "+strings.Join(libs, ", "))
	}
	return problems
}
