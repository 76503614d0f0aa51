// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/kube-openapi/pkg/validation/spec"
)

// describe returns s's description followed by its constraints: enum, default,
// pattern, length, item count and range limits.
func (w *schemaWalker) describe(s spec.Schema) string {
	parts := []string{strings.TrimSpace(s.Description)}
	if len(s.Enum) > 0 {
		vals := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			vals[i] = code(v)
		}
		parts = append(parts, "One of: "+strings.Join(vals, ", ")+".")
	}
	if s.Default != nil && (w.showZeroDefaults || !isZero(s.Default)) {
		parts = append(parts, "Default: "+code(s.Default)+".")
	}
	if s.Pattern != "" {
		parts = append(parts, "Pattern: `"+s.Pattern+"`.")
	}
	parts = appendLimit(parts, "Length", s.MinLength, s.MaxLength)
	parts = appendLimit(parts, "Items", s.MinItems, s.MaxItems)
	if s.Minimum != nil {
		parts = append(parts, fmt.Sprintf("Minimum: %v.", *s.Minimum))
	}
	if s.Maximum != nil {
		parts = append(parts, fmt.Sprintf("Maximum: %v.", *s.Maximum))
	}
	return strings.TrimSpace(strings.Join(parts, " "))
}

func appendLimit(parts []string, what string, lowest, highest *int64) []string {
	switch {
	case lowest != nil && highest != nil:
		return append(parts, fmt.Sprintf("%s: %d to %d.", what, *lowest, *highest))
	case lowest != nil:
		return append(parts, fmt.Sprintf("%s: at least %d.", what, *lowest))
	case highest != nil:
		return append(parts, fmt.Sprintf("%s: at most %d.", what, *highest))
	}
	return parts
}

// code renders a JSON value as a code span.
func code(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("`%v`", v)
	}
	return "`" + string(raw) + "`"
}

func isZero(v any) bool {
	switch v := v.(type) {
	case string:
		return v == ""
	case bool:
		return !v
	case float64:
		return v == 0
	case int64:
		return v == 0
	case int:
		return v == 0
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return v == nil
}
