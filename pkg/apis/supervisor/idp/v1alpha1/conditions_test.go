// SPDX-License-Identifier: Apache-2.0

package v1alpha1_test

import (
	"strings"
	"testing"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
)

func TestClientSecretTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		secretType   string
		oidc, github bool
	}{
		{secretType: "secrets.selkie.dev/oidc-client", oidc: true},
		{secretType: "secrets.pinniped.dev/oidc-client", oidc: true},
		{secretType: "secrets.selkie.dev/github-client", github: true},
		{secretType: "secrets.pinniped.dev/github-client", github: true},
		{secretType: "Opaque"},
		{secretType: "secrets.example.com/oidc-client"},
		{secretType: ""},
	}
	for _, tc := range tests {
		if got := idpv1alpha1.IsOIDCClientSecretType(tc.secretType); got != tc.oidc {
			t.Errorf("IsOIDCClientSecretType(%q) = %v, want %v", tc.secretType, got, tc.oidc)
		}
		if got := idpv1alpha1.IsGitHubClientSecretType(tc.secretType); got != tc.github {
			t.Errorf("IsGitHubClientSecretType(%q) = %v, want %v", tc.secretType, got, tc.github)
		}
	}
}

// TestForbiddenAuthorizeParameterNames pins the list of the docs/wire-contract.md §1.7.
// The CRD's CEL rule repeats it; crdvalidation tests that they agree.
func TestForbiddenAuthorizeParameterNames(t *testing.T) {
	t.Parallel()
	want := "response_type scope client_id state nonce code_challenge code_challenge_method redirect_uri hd"
	if got := strings.Join(idpv1alpha1.ForbiddenAuthorizeParameterNames(), " "); got != want {
		t.Errorf("ForbiddenAuthorizeParameterNames() = %q, want %q", got, want)
	}
}
