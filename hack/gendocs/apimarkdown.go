// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// renderAPI returns api.md: every kind of the concierge and supervisor API groups,
// the CRDs from the YAML in crdDir and the aggregated kinds from their OpenAPI
// definitions, by component, group, version and kind.
func renderAPI(crdDir string) ([]byte, error) {
	kinds, err := loadCRDKinds(crdDir)
	if err != nil {
		return nil, err
	}
	aggregated, err := loadAggregatedKinds()
	if err != nil {
		return nil, err
	}
	kinds = append(kinds, aggregated...)
	sort.Slice(kinds, func(i, j int) bool {
		a, b := kinds[i], kinds[j]
		if component(a.Group) != component(b.Group) {
			return component(a.Group) < component(b.Group)
		}
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Kind < b.Kind
	})

	var b bytes.Buffer
	b.WriteString(generatedNote)
	b.WriteString(`# API reference

Every kind of the concierge and supervisor API groups. CRD kinds are read from their
generated CustomResourceDefinitions (generated/crds), the kinds of the aggregated APIs
from the OpenAPI definitions generated from their Go types (generated/openapi). Groups
are shown with the default suffix ` + "`selkie.dev`" + `; with ` + "`--api-group-suffix`" + ` the
servers serve them under another suffix (` + "`pinniped.dev`" + ` for the reference groups).
Every kind also has ` + "`apiVersion`" + ` and ` + "`kind`" + `, which the tables leave out.

`)
	writeContents(&b, kinds)
	lastComponent, lastGV := "", ""
	for _, k := range kinds {
		if c := component(k.Group); c != lastComponent {
			fmt.Fprintf(&b, "## %s\n\n", c)
			lastComponent = c
		}
		if gv := k.Group + "/" + k.Version; gv != lastGV {
			fmt.Fprintf(&b, "### %s\n\n", gv)
			lastGV = gv
		}
		writeKind(&b, k)
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func writeContents(b *bytes.Buffer, kinds []apiKind) {
	b.WriteString("## Contents\n\n")
	lastGV := ""
	for _, k := range kinds {
		if gv := k.Group + "/" + k.Version; gv != lastGV {
			fmt.Fprintf(b, "- %s\n", gv)
			lastGV = gv
		}
		fmt.Fprintf(b, "  - [%s](#%s) (%s)\n", k.Kind, strings.ToLower(k.Kind), k.Served)
	}
	b.WriteString("\n")
}

func writeKind(b *bytes.Buffer, k apiKind) {
	fmt.Fprintf(b, "#### %s\n\n", k.Kind)
	fmt.Fprintf(b, "`%s/%s`, kind `%s`, served by ", k.Group, k.Version, k.Kind)
	if k.Served == "CustomResourceDefinition" {
		fmt.Fprintf(b, "the CustomResourceDefinition `%s` (%s).\n\n", k.Resource, scopeText(k.Scope))
	} else {
		fmt.Fprintf(b, "the %s aggregated API server.\n\n", component(k.Group))
	}
	if d := strings.TrimSpace(k.Description); d != "" {
		b.WriteString(escapeHTML(d) + "\n\n")
	}
	b.WriteString("| Field | Type | Required | Description |\n|---|---|---|---|\n")
	for _, f := range k.Fields {
		req := ""
		if f.Required {
			req = "yes"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", f.Path, cell(f.Type), req, cell(escapeHTML(f.Description)))
	}
	b.WriteString("\n")
}

func scopeText(scope string) string {
	if scope == "Cluster" {
		return "cluster-scoped"
	}
	return "namespaced"
}

// component names the server that serves group.
func component(group string) string {
	if strings.Contains(group, ".concierge.") {
		return "concierge"
	}
	return "supervisor"
}

// escapeHTML keeps angle brackets in descriptions (<prefix>, <namespace>) from being
// read as HTML tags; code spans are left alone.
func escapeHTML(s string) string {
	var out strings.Builder
	inCode := false
	for _, r := range s {
		switch {
		case r == '`':
			inCode = !inCode
			out.WriteRune(r)
		case !inCode && r == '<':
			out.WriteString("&lt;")
		case !inCode && r == '>':
			out.WriteString("&gt;")
		default:
			out.WriteRune(r)
		}
	}
	return out.String()
}
