// SPDX-License-Identifier: Apache-2.0

package crdvalidation_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/selkie-dev/selkie/pkg/apis/crdvalidation"
)

// crdDir is generated/crds relative to this package.
var crdDir = filepath.Join("..", "..", "..", "generated", "crds")

func load(t *testing.T, file string) *crdvalidation.Validator {
	t.Helper()
	v, err := crdvalidation.Load(filepath.Join(crdDir, file))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// object builds an object from its header (apiVersion, kind, metadata) and the
// YAML body of its spec.
func object(t *testing.T, header, spec string) map[string]any {
	t.Helper()
	var b strings.Builder
	b.WriteString(strings.TrimSpace(header))
	b.WriteString("\nspec:\n")
	for _, line := range strings.Split(strings.Trim(spec, "\n"), "\n") {
		b.WriteString("  " + line + "\n")
	}
	obj := map[string]any{}
	if err := yaml.Unmarshal([]byte(b.String()), &obj); err != nil {
		t.Fatalf("bad test object: %v\n%s", err, b.String())
	}
	return obj
}

// validationCase is an object and the errors its validation must return, as
// "<field>: <detail>" strings (see errorStrings); no errors means the object is
// valid.
type validationCase struct {
	name string
	spec string
	want []string
}

// cmpEmpty treats nil and empty slices as equal.
var cmpEmpty = cmpopts.EquateEmpty()

func errorStrings(errs field.ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		// Schema errors repeat the path in their detail; errors without detail
		// (required, duplicate) are named by their type.
		detail := strings.TrimPrefix(e.Detail, e.Field+" in body ")
		if detail == "" {
			detail = e.Type.String()
		}
		out = append(out, fmt.Sprintf("%s: %s", e.Field, detail))
	}
	sort.Strings(out)
	return out
}

func runCases(t *testing.T, file, header string, cases []validationCase) {
	t.Helper()
	v := load(t, file)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := errorStrings(v.Validate(context.Background(), object(t, header, tc.spec)))
			want := append([]string{}, tc.want...)
			sort.Strings(want)
			if diff := cmp.Diff(want, got, cmpEmpty); diff != "" {
				t.Errorf("validation errors (-want +got):\n%s", diff)
			}
		})
	}
}
