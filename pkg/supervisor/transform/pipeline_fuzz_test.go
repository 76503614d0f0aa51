// SPDX-License-Identifier: Apache-2.0

package transform

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/cel-go/cel"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
)

// fuzzPipelines are realistic transforms: the contract's example, string rewriting
// with the strings extension, regular expressions, policies on the username, and
// group expressions whose cost grows with both the username and the groups.
var fuzzPipelines = [][]configv1alpha1.FederationDomainTransformsExpression{
	{policy("groups.exists(g, g in strListConst.admins)", "only ops and sre"),
		username("strConst.prefix + username"), groups("groups.map(g, strConst.prefix + g)")},
	{username(`strConst["prefix"] + username.lowerAscii().replace(".", "-")`),
		groups(`groups.filter(g, !g.startsWith("tmp-")).map(g, g.upperAscii())`)},
	{username(`username.split("@")[0]`), policy(`username.matches("^[a-z0-9._-]+$")`, "bad username"),
		policy(`!username.startsWith("system:")`, "")},
	{username(`username.contains("\\") ? username.substring(username.indexOf("\\") + 1) : username`),
		groups(`groups.map(g, g.trim()).filter(g, g.size() > 0) + ["all-users"]`)},
	{groups(`groups.filter(g, g.contains(username.substring(0, username.size() / 2)))`),
		policy(`groups.size() <= 500`, "too many groups")},
	{policy(`username.size() < 64 && groups.all(g, g.size() < 64)`, "too long"),
		groups(`groups.map(g, g.replace("cn=", "").lowerAscii())`)},
	{groups(`"admins" in groups ? groups : []`), username(`username.reverse()`)},
}

// measuredCost evaluates one expression on the identity with cost tracking, in the
// package's environment, and returns its actual cost and whether it ran to the end.
func measuredCost(t *testing.T, p *Pipeline, e configv1alpha1.FederationDomainTransformsExpression, username string, groups []string) (uint64, bool) {
	t.Helper()
	env, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	checked, issues := env.Compile(e.Expression)
	if issues != nil && issues.Err() != nil {
		t.Fatal(issues.Err())
	}
	// Ten times the package's limit: enough to see an expression go over it, without
	// letting the measurement itself run away.
	prg, err := env.Program(checked, cel.EvalOptions(cel.OptTrackCost), cel.CostLimit(10*CostLimit))
	if err != nil {
		t.Fatal(err)
	}
	_, details, err := prg.Eval(map[string]any{varUsername: username, varGroups: groups, varStrConst: p.strs, varStrListConst: p.lists})
	if details == nil || details.ActualCost() == nil {
		t.Fatal("no cost was tracked")
	}
	return *details.ActualCost(), err == nil
}

// FuzzTransformInputs compiles a fixed set of realistic identity transforms and runs
// them on fuzzed usernames and groups (groups split on NUL bytes), as every login and
// refresh does with what the upstream says.
//
// Properties:
//   - evaluation never panics: upstream values produce results or errors;
//   - evaluation is deterministic: the same identity gives the same result or error;
//   - the caller's groups are not changed;
//   - a success has non-nil groups and a non-blank username when an expression mapped
//     it (the unchanged one otherwise); a rejection carries the policy's message; other
//     errors name the failing expression;
//   - the cost limit is honoured: when an expression runs to the end within the
//     package's cost limit the pipeline does not fail on it for cost, and an expression
//     whose actual cost exceeds the limit fails the evaluation; every evaluation ends
//     well within the pipeline's timeout. This protects against an upstream identity
//     that makes a transform stall the supervisor.
func FuzzTransformInputs(f *testing.F) {
	var pipelines []*Pipeline
	for i, exprs := range fuzzPipelines {
		p, err := Compile(configv1alpha1.FederationDomainTransforms{Constants: contractConstants(), Expressions: exprs})
		if err != nil {
			f.Fatalf("pipeline %d does not compile: %v", i, err)
		}
		pipelines = append(pipelines, p)
	}
	for i, s := range []struct{ username, groups string }{
		{"user1", "sre\x00ops"}, {"Pinny.Seal@example.com", "tmp-x\x00seals"}, {"system:admin", "admins"},
		{`CORP\pinny`, " a \x00\x00b,c"}, {"", ""}, {" ", "\x00"}, {"ü\xff", "cn=admins,ou=groups\x00cn=devs"},
		{strings.Repeat("a", 1000), strings.Repeat("g\x00", 500)}, {"a\x00b", "a\x00ab\x00abc"},
	} {
		f.Add(s.username, s.groups, uint8(i))
	}
	f.Fuzz(func(t *testing.T, username, groupList string, which uint8) {
		var groups []string
		if groupList != "" {
			groups = strings.Split(groupList, "\x00")
		}
		orig := slices.Clone(groups)
		index := int(which) % len(pipelines)
		p := pipelines[index]

		start := time.Now()
		gotUser, gotGroups, err := p.Evaluate(context.Background(), username, groups)
		if elapsed := time.Since(start); elapsed > Timeout {
			t.Errorf("evaluation took %v, more than the %v timeout", elapsed, Timeout)
		}
		againUser, againGroups, againErr := p.Evaluate(context.Background(), username, groups)
		if gotUser != againUser || !slices.Equal(gotGroups, againGroups) || (err == nil) != (againErr == nil) ||
			err != nil && err.Error() != againErr.Error() {
			t.Fatalf("two evaluations differ: %q %q %v, then %q %q %v", gotUser, gotGroups, err, againUser, againGroups, againErr)
		}
		if !slices.Equal(groups, orig) {
			t.Errorf("evaluation changed the caller's groups: %q, was %q", groups, orig)
		}
		var rejected *RejectedError
		switch {
		case errors.As(err, &rejected):
			if !slices.ContainsFunc(fuzzPipelines[index], func(e configv1alpha1.FederationDomainTransformsExpression) bool {
				return e.Type == configv1alpha1.TransformsExpressionTypePolicy &&
					(rejected.Message == e.Message || e.Message == "" && rejected.Message == configv1alpha1.DefaultPolicyRejectedMessage)
			}) {
				t.Errorf("rejection message %q is no policy's", rejected.Message)
			}
		case err != nil:
			if !strings.HasPrefix(err.Error(), "expressions[") {
				t.Errorf("error %q does not name the expression", err)
			}
		default:
			mapsUsername := slices.ContainsFunc(fuzzPipelines[index], func(e configv1alpha1.FederationDomainTransformsExpression) bool {
				return e.Type == configv1alpha1.TransformsExpressionTypeUsername
			})
			if gotGroups == nil || mapsUsername && strings.TrimSpace(gotUser) == "" || !mapsUsername && gotUser != username {
				t.Errorf("success with username %q and groups %v", gotUser, gotGroups)
			}
		}

		// The cost limit: replay the expressions one by one with cost tracking.
		user, current := username, groups
		if current == nil {
			current = []string{}
		}
		for i, e := range fuzzPipelines[index] {
			cost, ok := measuredCost(t, p, e, user, current)
			if cost > CostLimit {
				if err == nil {
					t.Fatalf("expressions[%d] cost %d, more than the limit %d, and the evaluation succeeded", i, cost, CostLimit)
				}
				return
			}
			if !ok {
				// The evaluation failed here, for another reason than cost.
				return
			}
			if err != nil && strings.Contains(err.Error(), "cost limit exceeded") && strings.HasPrefix(err.Error(), exprName(i, e)) {
				t.Fatalf("expressions[%d] costs %d, within the limit, but failed for cost: %v", i, cost, err)
			}
			// Carry the identity forward as the pipeline does.
			u, g, stepErr := (&Pipeline{exprs: p.exprs[i : i+1], strs: p.strs, lists: p.lists, timeout: Timeout}).Evaluate(context.Background(), user, current)
			if stepErr != nil {
				return
			}
			user, current = u, g
		}
	})
}

// exprName is how Compile names expression i in errors.
func exprName(i int, e configv1alpha1.FederationDomainTransformsExpression) string {
	return fmt.Sprintf("expressions[%d] (%s)", i, e.Type)
}
