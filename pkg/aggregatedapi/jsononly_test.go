// SPDX-License-Identifier: Apache-2.0

package aggregatedapi

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

func TestJSONOnly(t *testing.T) {
	t.Parallel()
	codecs := serializer.NewCodecFactory(runtime.NewScheme())
	if n := len(codecs.SupportedMediaTypes()); n < 3 {
		t.Fatalf("the codec factory offers %d media types; the test needs JSON, YAML and protobuf", n)
	}
	var got []string
	for _, info := range (jsonOnly{codecs}).SupportedMediaTypes() {
		got = append(got, info.MediaType)
	}
	if len(got) != 1 || got[0] != runtime.ContentTypeJSON {
		t.Errorf("media types %v, want only %s", got, runtime.ContentTypeJSON)
	}
}
