// SPDX-License-Identifier: Apache-2.0

package transform

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
)

type expects = configv1alpha1.FederationDomainTransformsExampleExpects

func TestRunExamples(t *testing.T) {
	t.Parallel()
	// The transforms of docs/wire-contract.md, plus a policy without a message and one that errs.
	spec := configv1alpha1.FederationDomainTransforms{
		Constants: contractConstants(),
		Expressions: []configv1alpha1.FederationDomainTransformsExpression{
			policy(`username != "root"`, ""),
			policy(`username != "boom" || strConst["missing"] == ""`, ""),
			policy("groups.exists(g, g in strListConst.admins)", "only ops and sre"),
			username("strConst.prefix + username"),
			groups("groups.map(g, strConst.prefix + g)"),
		},
	}
	for _, tc := range []struct {
		name        string
		username    string
		groups      []string
		expects     expects
		wantProblem string
	}{
		{name: "contract example 1", username: "user1", groups: []string{"sre", "ops"},
			expects: expects{Username: "ldap:user1", Groups: []string{"ldap:ops", "ldap:sre"}}},
		{name: "contract example 2", username: "user2", groups: []string{"dev"}, expects: expects{Rejected: true, Message: "only ops and sre"}},
		{name: "groups compared sorted and de-duplicated", username: "u", groups: []string{"sre", "ops", "sre"},
			expects: expects{Username: "ldap:u", Groups: []string{"ldap:sre", "ldap:ops", "ldap:ops"}}},
		{name: "rejected with an empty message expects the default", username: "root", expects: expects{Rejected: true}},
		{name: "rejection message differs", username: "root",
			expects:     expects{Rejected: true, Message: "only ops and sre"},
			wantProblem: `expected a rejection with message "only ops and sre", got one with message "authentication was rejected by a configured policy"`},
		{name: "expected a rejection", username: "u", groups: []string{"ops"}, expects: expects{Rejected: true},
			wantProblem: "expected a rejection, the identity was accepted"},
		{name: "unexpected rejection", username: "u", groups: []string{"dev"}, expects: expects{Username: "ldap:u"},
			wantProblem: `expected no rejection, got one with message "only ops and sre"`},
		{name: "expected error", username: "boom", expects: expects{Message: "no such key: missing"}},
		{name: "expected error that does not happen", username: "u", groups: []string{"ops"}, expects: expects{Message: "no such key"},
			wantProblem: `expected an error containing "no such key", got no error`},
		{name: "unexpected error", username: "boom", expects: expects{Username: "boom"},
			wantProblem: `expected no error, got "expressions[1] (policy/v1): no such key: missing"`},
		{name: "expected rejection, got an error", username: "boom", expects: expects{Rejected: true},
			wantProblem: `expected a rejection with message "authentication was rejected by a configured policy", got the error "expressions[1] (policy/v1): no such key: missing"`},
		{name: "username and groups differ", username: "u", groups: []string{"ops"}, expects: expects{Username: "u", Groups: []string{"ops"}},
			wantProblem: `expected username "u", got "ldap:u"; expected groups ["ops"], got ["ldap:ops"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := spec
			s.Examples = []configv1alpha1.FederationDomainTransformsExample{
				{Username: "user1", Groups: []string{"ops"}, Expects: expects{Username: "ldap:user1", Groups: []string{"ldap:ops"}}},
				{Username: tc.username, Groups: tc.groups, Expects: tc.expects},
			}
			var want []ExampleFailure
			if tc.wantProblem != "" {
				want = []ExampleFailure{{Index: 1, Username: tc.username, Problem: tc.wantProblem}}
			}
			if diff := cmp.Diff(want, mustCompile(t, s).RunExamples(context.Background())); diff != "" {
				t.Errorf("failures (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExampleFailureError(t *testing.T) {
	t.Parallel()
	f := ExampleFailure{Index: 3, Username: "pinny", Problem: "expected username \"a\", got \"b\""}
	if got, want := f.Error(), `examples[3] (username "pinny"): expected username "a", got "b"`; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}
