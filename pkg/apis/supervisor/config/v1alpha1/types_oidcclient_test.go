// SPDX-License-Identifier: Apache-2.0

package v1alpha1_test

import (
	"encoding/json"
	"testing"

	supervisorconfigv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
)

// TestOIDCClientStatusJSON pins that status.totalClientSecrets is always
// serialized, so that printer columns and clients see 0.
func TestOIDCClientStatusJSON(t *testing.T) {
	t.Parallel()
	encoded, err := json.Marshal(supervisorconfigv1alpha1.OIDCClientStatus{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"totalClientSecrets":0}`; string(encoded) != want {
		t.Errorf("empty status = %s, want %s", encoded, want)
	}
	// The prefix is a wire constant, independent of the API group suffix.
	if got := supervisorconfigv1alpha1.OIDCClientNamePrefix; got != "client.oauth.pinniped.dev-" {
		t.Errorf("OIDCClientNamePrefix = %q", got)
	}
}
