// SPDX-License-Identifier: Apache-2.0

package aggregatedapi

import "k8s.io/apimachinery/pkg/runtime"

// jsonOnly offers only the application/json serializer of the one it wraps, so requests
// for YAML or protobuf get 406 or 415 instead of a body the clients of an aggregated
// group do not expect.
type jsonOnly struct{ runtime.NegotiatedSerializer }

// SupportedMediaTypes returns only application/json.
func (j jsonOnly) SupportedMediaTypes() []runtime.SerializerInfo {
	var out []runtime.SerializerInfo
	for _, info := range j.NegotiatedSerializer.SupportedMediaTypes() {
		if info.MediaType == runtime.ContentTypeJSON {
			out = append(out, info)
		}
	}
	return out
}
