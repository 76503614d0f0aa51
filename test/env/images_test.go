// SPDX-License-Identifier: Apache-2.0

package env

import "testing"

// The test images' specs must pass the image package's own checks (declared parents,
// one source per file), or BuildTestImages fails only when an integration test runs.
func TestToolboxSpecIsValid(t *testing.T) {
	if err := toolboxSpec().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := netcheckSpec().Validate(); err != nil {
		t.Fatal(err)
	}
}
