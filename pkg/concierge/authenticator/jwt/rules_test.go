// SPDX-License-Identifier: Apache-2.0

package jwt

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
)

// pipelineSpec trusts CI job tokens shaped like GitHub Actions' of one repository's
// main branch, and names the user after the repository.
func pipelineSpec(is *testIssuer) v1alpha1.JWTAuthenticatorSpec {
	return v1alpha1.JWTAuthenticatorSpec{
		Issuer: is.url, Audience: testAudience, TLS: inlineTLS(is),
		ClaimValidationRules: []v1alpha1.ClaimValidationRule{
			{Claim: "repository", RequiredValue: "seals/ci"},
			{Expression: `claims.ref == "refs/heads/main"`, Message: "only the main branch deploys"},
		},
		Claims: v1alpha1.JWTTokenClaims{
			UsernameExpression: `"ci:" + claims.repository`,
			GroupsExpression:   `has(claims.environment) ? ["ci", "ci:" + claims.environment] : ["ci"]`,
		},
		UserValidationRules: []v1alpha1.UserValidationRule{{Expression: `!user.username.endsWith("-fork")`, Message: "no forks"}},
	}
}

// TestClaimRules checks CEL claim rules and mappings end to end in the authenticator a
// Ready JWTAuthenticator stores: the mapped identity, and each rule refusing with its
// expression and message in the error (which the audit line carries).
func TestClaimRules(t *testing.T) {
	t.Parallel()
	is := newIssuer(t, issuerOptions{})
	r := newReconciler(t, newJWTAuthenticator(pipelineSpec(is)))
	reconcileOnce(t, r)
	authn, ok := r.Cache.Get(cacheKey())
	if !ok {
		t.Fatalf("not Ready: %+v", getJWTAuthenticator(t, r).Status.Conditions)
	}
	job := map[string]any{"username": nil, "groups": nil, "repository": "seals/ci", "ref": "refs/heads/main", "environment": "prod",
		"job_workflow_ref": "seals/ci/.github/workflows/deploy.yml@refs/heads/main"}
	with := func(changes map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range job {
			out[k] = v
		}
		for k, v := range changes {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name       string
		claims     map[string]any
		wantUser   string
		wantGroups []string
		wantErr    string
	}{
		{name: "main branch", claims: job, wantUser: "ci:seals/ci", wantGroups: []string{"ci", "ci:prod"}},
		{name: "no environment", claims: with(map[string]any{"environment": nil}), wantUser: "ci:seals/ci", wantGroups: []string{"ci"}},
		{name: "other branch", claims: with(map[string]any{"ref": "refs/heads/feature"}), wantErr: "only the main branch deploys"},
		{name: "other repository", claims: with(map[string]any{"repository": "walruses/ci"}), wantErr: "required claim repository value does not match"},
		{name: "user rule", claims: with(map[string]any{"repository": "seals/ci-fork"}), wantErr: "required claim repository"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, ok, err := authn.AuthenticateToken(context.Background(), is.sign(t, jose.ES256, is.claims(testAudience, tc.claims), false))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("AuthenticateToken = %v, %v; want an error containing %q", ok, err, tc.wantErr)
				}
				return
			}
			if err != nil || !ok {
				t.Fatalf("AuthenticateToken = %v, %v", ok, err)
			}
			if resp.User.GetName() != tc.wantUser {
				t.Errorf("username = %q, want %q", resp.User.GetName(), tc.wantUser)
			}
			if diff := cmp.Diff(tc.wantGroups, resp.User.GetGroups()); diff != "" {
				t.Errorf("groups (-want +got):\n%s", diff)
			}
		})
	}

	// A user rule of the spec refuses too, before the concierge's own.
	is2 := newIssuer(t, issuerOptions{})
	spec := pipelineSpec(is2)
	spec.ClaimValidationRules = nil
	r2 := newReconciler(t, newJWTAuthenticator(spec))
	reconcileOnce(t, r2)
	authn2, _ := r2.Cache.Get(cacheKey())
	_, _, err := authn2.AuthenticateToken(context.Background(), is2.sign(t, jose.ES256, is2.claims(testAudience, with(map[string]any{"repository": "seals/ci-fork"})), false))
	if err == nil || !strings.Contains(err.Error(), "no forks") {
		t.Errorf("fork: %v, want the user rule's message", err)
	}
}

// TestClaimRulesStatus checks that bad rules and mappings are reported in the
// ClaimRulesValid condition, naming the spec field, and that nothing is built.
func TestClaimRulesStatus(t *testing.T) {
	t.Parallel()
	is := newIssuer(t, issuerOptions{})
	tests := []struct {
		name    string
		edit    func(*v1alpha1.JWTAuthenticatorSpec)
		wantMsg string // empty: valid
	}{
		{name: "compile error", edit: func(s *v1alpha1.JWTAuthenticatorSpec) {
			s.ClaimValidationRules = []v1alpha1.ClaimValidationRule{{Expression: `claims.ref ==`}}
		}, wantMsg: "spec.claimValidationRules[0].expression: Invalid value"},
		{name: "unknown variable", edit: func(s *v1alpha1.JWTAuthenticatorSpec) {
			s.Claims.UsernameExpression = `request.user`
		}, wantMsg: "spec.claims.usernameExpression: Invalid value"},
		{name: "rule not a boolean", edit: func(s *v1alpha1.JWTAuthenticatorSpec) {
			s.ClaimValidationRules = []v1alpha1.ClaimValidationRule{{Expression: `"yes"`}}
		}, wantMsg: "must evaluate to bool"},
		{name: "username not a string", edit: func(s *v1alpha1.JWTAuthenticatorSpec) {
			s.Claims.UsernameExpression = `42`
		}, wantMsg: "spec.claims.usernameExpression: returns int, must return string"},
		{name: "groups not strings", edit: func(s *v1alpha1.JWTAuthenticatorSpec) {
			s.Claims.GroupsExpression = `[1, 2]`
		}, wantMsg: "spec.claims.groupsExpression: returns list(int), must return string or list(string)"},
		{name: "cost over the limit", edit: func(s *v1alpha1.JWTAuthenticatorSpec) {
			s.ClaimValidationRules = []v1alpha1.ClaimValidationRule{{
				Expression: `dyn(claims.groups).all(a, dyn(claims.groups).all(b, dyn(claims.groups).all(c, a + b + c != "")))`}}
		}, wantMsg: "spec.claimValidationRules[0].expression: estimated cost"},
		{name: "claim and expression", edit: func(s *v1alpha1.JWTAuthenticatorSpec) {
			s.ClaimValidationRules = []v1alpha1.ClaimValidationRule{{Claim: "ref", Expression: "true"}}
		}, wantMsg: "spec.claimValidationRules[0]: Invalid value"},
		{name: "reserved extra key", edit: func(s *v1alpha1.JWTAuthenticatorSpec) {
			s.Claims.Extra = []v1alpha1.ExtraMapping{{Key: "authentication.kubernetes.io/x", ValueExpression: "claims.sub"}}
		}, wantMsg: "spec.claims.extra[0].key"},
		{name: "user rule over claims", edit: func(s *v1alpha1.JWTAuthenticatorSpec) {
			s.UserValidationRules = []v1alpha1.UserValidationRule{{Expression: `claims.sub != ""`}}
		}, wantMsg: "spec.userValidationRules[0].expression"},
		{name: "GitHub-shaped rules", edit: func(s *v1alpha1.JWTAuthenticatorSpec) {
			*s = pipelineSpec(is)
			s.ClaimValidationRules = append(s.ClaimValidationRules, v1alpha1.ClaimValidationRule{
				Expression: `claims.job_workflow_ref.matches("^seals/ci/[.]github/workflows/[a-z-]+[.]yml@refs/heads/main$")`})
		}},
		{name: "loops over a claim within the cost limit", edit: func(s *v1alpha1.JWTAuthenticatorSpec) {
			s.ClaimValidationRules = []v1alpha1.ClaimValidationRule{{Expression: `dyn(claims.groups).exists(g, g.matches("^ops-[a-z]+$"))`}}
			s.Claims.GroupsExpression = `dyn(claims.groups).map(g, "idp:" + g)`
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience, TLS: inlineTLS(is)}
			tc.edit(&spec)
			r := newReconciler(t, newJWTAuthenticator(spec))
			reconcileOnce(t, r)
			got := findCondition(getJWTAuthenticator(t, r).Status.Conditions, v1alpha1.ConditionClaimRulesValid)
			_, built := r.Cache.Get(cacheKey())
			if tc.wantMsg == "" {
				if got == nil || got.Status != metav1.ConditionTrue || !built {
					t.Fatalf("condition %+v, built %v; want True and built", got, built)
				}
				return
			}
			if got == nil || got.Status != metav1.ConditionFalse || got.Reason != v1alpha1.ReasonInvalidClaimRules ||
				!strings.Contains(got.Message, tc.wantMsg) {
				t.Fatalf("condition %+v; want False %s containing %q", got, v1alpha1.ReasonInvalidClaimRules, tc.wantMsg)
			}
			if built {
				t.Error("an authenticator was built from invalid rules")
			}
		})
	}
}

// TestClaimRulesSayWhatCertificatesCannotCarry checks that mapping a UID or extras is
// valid but stated in the status: client certificates cannot carry them.
func TestClaimRulesSayWhatCertificatesCannotCarry(t *testing.T) {
	t.Parallel()
	is := newIssuer(t, issuerOptions{})
	spec := v1alpha1.JWTAuthenticatorSpec{Issuer: is.url, Audience: testAudience, TLS: inlineTLS(is),
		Claims: v1alpha1.JWTTokenClaims{Extra: []v1alpha1.ExtraMapping{{Key: "ci.example.com/ref", ValueExpression: "claims.ref"}}}}
	r := newReconciler(t, newJWTAuthenticator(spec))
	reconcileOnce(t, r)
	got := findCondition(getJWTAuthenticator(t, r).Status.Conditions, v1alpha1.ConditionClaimRulesValid)
	if got == nil || got.Status != metav1.ConditionTrue || !strings.Contains(got.Message, "a client certificate cannot carry") {
		t.Fatalf("condition %+v; want True, saying certificates cannot carry extras", got)
	}
	authn, ok := r.Cache.Get(cacheKey())
	if !ok {
		t.Fatal("not built")
	}
	resp, ok, err := authn.AuthenticateToken(context.Background(), is.sign(t, jose.ES256, is.claims(testAudience, map[string]any{"ref": "refs/heads/main"}), false))
	if err != nil || !ok {
		t.Fatalf("AuthenticateToken = %v, %v", ok, err)
	}
	if diff := cmp.Diff([]string{"refs/heads/main"}, resp.User.GetExtra()["ci.example.com/ref"]); diff != "" {
		t.Errorf("extra (-want +got):\n%s", diff)
	}
}

func findCondition(conds []metav1.Condition, typ string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

// TestClaimRulesMessageIsBounded: many broken expressions give a bounded message.
func TestClaimRulesMessageIsBounded(t *testing.T) {
	t.Parallel()
	spec := v1alpha1.JWTAuthenticatorSpec{Issuer: "https://issuer.example.com", Audience: testAudience}
	for i := range 64 {
		spec.ClaimValidationRules = append(spec.ClaimValidationRules, v1alpha1.ClaimValidationRule{
			Expression: fmt.Sprintf(`claims.x%d == %s`, i, strings.Repeat("(", 40))})
	}
	p := &probe{}
	p.Spec = withDefaults(spec)
	_, failure := p.checkClaimRules(context.Background())
	if failure == nil {
		t.Fatal("64 broken expressions passed")
	}
	if len(failure.Message) > maxRulesMessage+20 || !strings.HasSuffix(failure.Message, "(truncated)") {
		t.Fatalf("message of %d bytes ending %q; want at most %d, truncated", len(failure.Message), failure.Message[max(0, len(failure.Message)-40):], maxRulesMessage)
	}
}
