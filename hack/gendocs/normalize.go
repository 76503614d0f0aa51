// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"sort"
	"strings"
)

// normalizer replaces values that differ between machines (home, temp and working
// directory) with placeholders, so generated pages are the same everywhere.
type normalizer struct {
	replacements []replacement
}

type replacement struct {
	value, placeholder string
}

// newNormalizer reads the machine's values from the environment of this process.
func newNormalizer() normalizer {
	var n normalizer
	add := func(value, placeholder string) {
		value = strings.TrimRight(value, "/")
		if len(value) > 1 { // "" and "/" would replace far too much
			n.replacements = append(n.replacements, replacement{value, placeholder})
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		add(home, "$HOME")
	}
	add(os.TempDir(), "$TMPDIR")
	if wd, err := os.Getwd(); err == nil {
		add(wd, "$PWD")
	}
	// Longest first: a working directory below $HOME becomes $PWD, not $HOME/...
	sort.SliceStable(n.replacements, func(i, j int) bool {
		return len(n.replacements[i].value) > len(n.replacements[j].value)
	})
	return n
}

func (n normalizer) apply(s string) string {
	for _, r := range n.replacements {
		s = replacePath(s, r.value, r.placeholder)
	}
	return s
}

// replacePath replaces dir in s where it is a whole path prefix: /home/a in
// /home/a/x and "/home/a", not in /home/ab.
func replacePath(s, dir, placeholder string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, dir)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(dir)
		if end == len(s) || !isPathChar(s[end]) {
			b.WriteString(s[:i] + placeholder)
		} else {
			b.WriteString(s[:end])
		}
		s = s[end:]
	}
}

func isPathChar(c byte) bool {
	return c == '.' || c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
