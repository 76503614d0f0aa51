// SPDX-License-Identifier: Apache-2.0

package aggregatedapi

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/kube-openapi/pkg/common"
)

// coreV1Models returns the model-name prefix of k8s.io/api/core/v1's types.
func coreV1Models() string {
	name := corev1.TypedLocalObjectReference{}.OpenAPIModelName()
	return name[:strings.LastIndex(name, ".")+1]
}

// withoutUnusedCoreTypes wraps the generated definitions so that of k8s.io/api/core/v1's
// types only those our types reference (and what they reference) remain. The generator
// emits all of that package's definitions (about 250) because our types use two of
// it, and the API server keeps the OpenAPI v3 definitions it is given for the life of the
// process; the servers never serve a core type, so the rest is dead weight.
func withoutUnusedCoreTypes(get common.GetOpenAPIDefinitions) common.GetOpenAPIDefinitions {
	core := coreV1Models()
	return func(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
		all := get(ref)
		kept := make(map[string]common.OpenAPIDefinition, len(all))
		var visit func(name string)
		visit = func(name string) {
			if _, done := kept[name]; done {
				return
			}
			def, ok := all[name]
			if !ok {
				return // the API server reports a missing definition itself
			}
			kept[name] = def
			for _, dep := range def.Dependencies {
				visit(dep)
			}
		}
		for name := range all {
			if !strings.HasPrefix(name, core) {
				visit(name)
			}
		}
		return kept
	}
}
