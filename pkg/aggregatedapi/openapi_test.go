// SPDX-License-Identifier: Apache-2.0

package aggregatedapi

import (
	"runtime"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/selkie-dev/selkie/generated/openapi"
)

func refTo(path string) spec.Ref {
	return spec.MustCreateRef("#/definitions/" + common.EscapeJsonPointer(path))
}

func TestWithoutUnusedCoreTypes(t *testing.T) {
	t.Parallel()
	all := openapi.GetOpenAPIDefinitions(refTo)
	kept := withoutUnusedCoreTypes(openapi.GetOpenAPIDefinitions)(refTo)

	var dropped, core int
	for name := range all {
		_, ok := kept[name]
		switch {
		case !strings.HasPrefix(name, coreV1Models()) && !ok:
			t.Errorf("%s was dropped; only core/v1 types may be", name)
		case !ok:
			dropped++
		}
		if strings.HasPrefix(name, coreV1Models()) {
			core++
		}
	}
	// Closed under references: whatever a kept definition needs is kept.
	for name, def := range kept {
		for _, dep := range def.Dependencies {
			if _, ok := kept[dep]; !ok {
				t.Errorf("%s needs %s, which was dropped", name, dep)
			}
		}
	}
	for _, name := range []string{corev1.TypedLocalObjectReference{}.OpenAPIModelName(), metav1.Status{}.OpenAPIModelName()} {
		if _, ok := kept[name]; !ok {
			t.Errorf("%s was dropped", name)
		}
	}
	if _, ok := kept[corev1.Service{}.OpenAPIModelName()]; ok {
		t.Error("core/v1 Service, which nothing of ours references, was kept")
	}
	if dropped < core-10 {
		t.Errorf("dropped %d of %d core/v1 definitions; want nearly all", dropped, core)
	}
	t.Logf("kept %d of %d definitions", len(kept), len(all))
}

// BenchmarkOpenAPIDefinitionsHeld reports the heap that the definitions the API server
// holds for its life take, with and without the pruning.
func BenchmarkOpenAPIDefinitionsHeld(b *testing.B) {
	for _, c := range []struct {
		name string
		get  common.GetOpenAPIDefinitions
	}{{"generated", openapi.GetOpenAPIDefinitions}, {"pruned", withoutUnusedCoreTypes(openapi.GetOpenAPIDefinitions)}} {
		b.Run(c.name, func(b *testing.B) {
			var held uint64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				defs := c.get(refTo)
				runtime.GC()
				runtime.ReadMemStats(&after)
				runtime.KeepAlive(defs)
				held = after.HeapAlloc - before.HeapAlloc
			}
			b.ReportMetric(float64(held)/1e6, "held-MB")
		})
	}
}
