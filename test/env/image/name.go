// SPDX-License-Identifier: Apache-2.0

package image

import (
	"fmt"

	"github.com/distribution/reference"
)

// NormalizeName returns the fully qualified form of an image name such as selkie:dev:
// the default registry and repository path added, and latest as the tag if none is
// given. containerd stores imported images, and the kubelet asks for them, under this
// form, so a pod's `image: selkie:dev` finds the image imported as selkie:dev. It uses the
// normalizer containerd's importer uses (github.com/distribution/reference), so the two
// cannot disagree about the default registry.
//
// A name with a digest is refused: the digest of an image being built is not known in
// advance, so the name could only be wrong.
func NormalizeName(name string) (string, error) {
	named, err := reference.ParseDockerRef(name)
	if err != nil {
		return "", fmt.Errorf("image name %q: %w", name, err)
	}
	if _, tagged := named.(reference.Tagged); !tagged {
		return "", fmt.Errorf("image name %q has a digest; name a built image with a tag", name)
	}
	return named.String(), nil
}
