// SPDX-License-Identifier: Apache-2.0

package transform

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
)

func expr(typ, src string) configv1alpha1.FederationDomainTransformsExpression {
	return configv1alpha1.FederationDomainTransformsExpression{Type: typ, Expression: src}
}

func policy(src, msg string) configv1alpha1.FederationDomainTransformsExpression {
	return configv1alpha1.FederationDomainTransformsExpression{Type: configv1alpha1.TransformsExpressionTypePolicy, Expression: src, Message: msg}
}

func username(src string) configv1alpha1.FederationDomainTransformsExpression {
	return expr(configv1alpha1.TransformsExpressionTypeUsername, src)
}

func groups(src string) configv1alpha1.FederationDomainTransformsExpression {
	return expr(configv1alpha1.TransformsExpressionTypeGroups, src)
}

// contractConstants are the constants of the example in docs/wire-contract.md.
func contractConstants() []configv1alpha1.FederationDomainTransformsConstant {
	return []configv1alpha1.FederationDomainTransformsConstant{
		{Name: "prefix", Type: configv1alpha1.TransformsConstantTypeString, StringValue: "ldap:"},
		{Name: "admins", Type: configv1alpha1.TransformsConstantTypeStringList, StringListValue: []string{"ops", "sre"}},
	}
}

func mustCompile(t *testing.T, spec configv1alpha1.FederationDomainTransforms) *Pipeline {
	t.Helper()
	p, err := Compile(spec)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return p
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		exprs        []configv1alpha1.FederationDomainTransformsExpression
		username     string
		groups       []string
		wantUsername string
		wantGroups   []string
		wantRejected string
		wantErr      string
	}{
		{name: "no expressions keep the identity, groups never null", username: "u", wantUsername: "u", wantGroups: []string{}},
		{name: "the contract's example", exprs: []configv1alpha1.FederationDomainTransformsExpression{
			policy("groups.exists(g, g in strListConst.admins)", "only ops and sre"),
			username("strConst.prefix + username"), groups("groups.map(g, strConst.prefix + g)")},
			username: "user1", groups: []string{"sre", "ops"}, wantUsername: "ldap:user1", wantGroups: []string{"ldap:sre", "ldap:ops"}},
		{name: "a policy rejects with its message", exprs: []configv1alpha1.FederationDomainTransformsExpression{
			policy("groups.exists(g, g in strListConst.admins)", "only ops and sre")},
			username: "user2", groups: []string{"dev"}, wantRejected: "only ops and sre"},
		{name: "a policy without a message rejects with the default", exprs: []configv1alpha1.FederationDomainTransformsExpression{policy("false", "")},
			username: "u", wantRejected: configv1alpha1.DefaultPolicyRejectedMessage},
		{name: "expressions run in order", exprs: []configv1alpha1.FederationDomainTransformsExpression{
			username(`username.split("@")[0]`), policy(`username == "pinny"`, "only pinny")},
			username: "pinny@example.com", wantUsername: "pinny", wantGroups: []string{}},
		{name: "the strings extension and index access to constants", exprs: []configv1alpha1.FederationDomainTransformsExpression{
			username(`strConst["prefix"] + username.lowerAscii().replace(".", "-")`),
			groups(`groups.filter(g, !g.startsWith("tmp-")).map(g, g.upperAscii())`)},
			username: "Pinny.Seal", groups: []string{"tmp-x", "seals"}, wantUsername: "ldap:pinny-seal", wantGroups: []string{"SEALS"}},
		{name: "time zone defaults to UTC", exprs: []configv1alpha1.FederationDomainTransformsExpression{
			policy(`timestamp("2024-01-01T23:00:00-05:00").getHours() == 4`, "")},
			username: "u", wantUsername: "u", wantGroups: []string{}},
		{name: "an empty list literal is a list of strings", exprs: []configv1alpha1.FederationDomainTransformsExpression{groups(`"x" in groups ? groups : []`)},
			username: "u", groups: []string{"y"}, wantUsername: "u", wantGroups: []string{}},
		{name: "a blank username is an error", exprs: []configv1alpha1.FederationDomainTransformsExpression{username("username"), username(`" "`)},
			username: "u", wantErr: "expressions[1] (username/v1): returned a blank username"},
		{name: "a null list is an error", exprs: []configv1alpha1.FederationDomainTransformsExpression{groups("dyn(null)")},
			username: "u", wantErr: "expressions[0] (groups/v1): returned null"},
		{name: "a dyn of the wrong type is an error", exprs: []configv1alpha1.FederationDomainTransformsExpression{policy(`dyn("yes")`, "")},
			username: "u", wantErr: "expressions[0] (policy/v1): returned string, want a bool"},
		{name: "a runtime error names the expression", exprs: []configv1alpha1.FederationDomainTransformsExpression{
			policy("true", ""), groups(`groups.map(g, g + strConst["missing"])`)},
			username: "u", groups: []string{"a"}, wantErr: "expressions[1] (groups/v1): no such key: missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := configv1alpha1.FederationDomainTransforms{Constants: contractConstants(), Expressions: tc.exprs}
			gotUsername, gotGroups, err := mustCompile(t, spec).Evaluate(context.Background(), tc.username, tc.groups)
			var rejected *RejectedError
			switch {
			case tc.wantRejected != "":
				if !errors.As(err, &rejected) || rejected.Message != tc.wantRejected {
					t.Fatalf("error %v, want a rejection with %q", err, tc.wantRejected)
				}
			case tc.wantErr != "":
				if err == nil || errors.As(err, &rejected) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			default:
				if gotUsername != tc.wantUsername {
					t.Errorf("username %q, want %q", gotUsername, tc.wantUsername)
				}
				if diff := cmp.Diff(tc.wantGroups, gotGroups); diff != "" {
					t.Errorf("groups (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		constants []configv1alpha1.FederationDomainTransformsConstant
		exprs     []configv1alpha1.FederationDomainTransformsExpression
		want      []string
	}{
		{name: "syntax", exprs: []configv1alpha1.FederationDomainTransformsExpression{policy("true", ""), policy("groups.exists(g,", "")},
			want: []string{"expressions[1] (policy/v1): ERROR: <input>:1:"}},
		{name: "undeclared variable", exprs: []configv1alpha1.FederationDomainTransformsExpression{username("email")},
			want: []string{"expressions[0] (username/v1): ERROR", "undeclared reference to 'email'"}},
		{name: "policy returning a string", exprs: []configv1alpha1.FederationDomainTransformsExpression{policy("username", "")},
			want: []string{"expressions[0] (policy/v1): the expression returns string, want bool"}},
		{name: "username returning a list", exprs: []configv1alpha1.FederationDomainTransformsExpression{username("groups")},
			want: []string{"expressions[0] (username/v1): the expression returns list(string), want string"}},
		{name: "groups returning a list of ints", exprs: []configv1alpha1.FederationDomainTransformsExpression{groups("[1, 2]")},
			want: []string{"expressions[0] (groups/v1): the expression returns list(int), want list(string)"}},
		{name: "mixed literal", exprs: []configv1alpha1.FederationDomainTransformsExpression{policy(`["a", 1].size() > 0`, "")},
			want: []string{"expressions[0] (policy/v1): ERROR", "expected type 'string' but found 'int'"}},
		{name: "unknown constant", exprs: []configv1alpha1.FederationDomainTransformsExpression{username("strConst.nope + username")},
			want: []string{"expressions[0] (username/v1): strConst.nope is not a constant of type string"}},
		{name: "constant of the other type", constants: contractConstants(),
			exprs: []configv1alpha1.FederationDomainTransformsExpression{policy(`"x" in strListConst.prefix`, "")},
			want:  []string{"expressions[0] (policy/v1): strListConst.prefix is not a constant of type stringList"}},
		{name: "unknown expression type", exprs: []configv1alpha1.FederationDomainTransformsExpression{expr("email/v1", "username")},
			want: []string{`expressions[0] (email/v1): unknown expression type "email/v1"`}},
		{name: "duplicate constant", constants: append(contractConstants(), configv1alpha1.FederationDomainTransformsConstant{Name: "prefix", Type: "stringList"}),
			want: []string{`constants[2]: duplicate name "prefix"`}},
		{name: "too expensive", exprs: []configv1alpha1.FederationDomainTransformsExpression{
			policy(`groups.all(a, groups.all(b, groups.all(c, a + b + c != "")))`, "")},
			want: []string{"expressions[0] (policy/v1): the estimated cost", "exceeds the limit 1000000"}},
		{name: "every error is reported", exprs: []configv1alpha1.FederationDomainTransformsExpression{username("1"), policy("true", ""), groups("username")},
			want: []string{"expressions[0] (username/v1)", "expressions[2] (groups/v1)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Compile(configv1alpha1.FederationDomainTransforms{Constants: tc.constants, Expressions: tc.exprs})
			if err == nil {
				t.Fatal("compiled")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestRuntimeLimits(t *testing.T) {
	t.Parallel()
	many := func(n, length int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = strings.Repeat("g", length)
		}
		return out
	}
	t.Run("cost", func(t *testing.T) {
		t.Parallel()
		// Cheap for the estimate's 1000 groups, too expensive for 50000 long ones.
		p := mustCompile(t, configv1alpha1.FederationDomainTransforms{Expressions: []configv1alpha1.FederationDomainTransformsExpression{
			policy("true", ""), groups("groups.map(g, g.upperAscii())")}})
		if _, _, err := p.Evaluate(context.Background(), "u", many(1000, 10)); err != nil {
			t.Fatalf("1000 groups: %v", err)
		}
		_, _, err := p.Evaluate(context.Background(), "u", many(50000, 300))
		if err == nil || !strings.Contains(err.Error(), "expressions[1] (groups/v1)") || !strings.Contains(err.Error(), "cost limit exceeded") {
			t.Errorf("error %v, want the cost limit of expressions[1]", err)
		}
	})
	t.Run("time", func(t *testing.T) {
		t.Parallel()
		p := mustCompile(t, configv1alpha1.FederationDomainTransforms{Expressions: []configv1alpha1.FederationDomainTransformsExpression{
			policy(`!groups.exists(g, g == "x")`, "")}})
		p.timeout = time.Nanosecond
		_, _, err := p.Evaluate(context.Background(), "u", many(1000, 1))
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "expressions[0] (policy/v1)") {
			t.Errorf("error %v, want the deadline of expressions[0]", err)
		}
	})
	t.Run("caller's context", func(t *testing.T) {
		t.Parallel()
		p := mustCompile(t, configv1alpha1.FederationDomainTransforms{Expressions: []configv1alpha1.FederationDomainTransformsExpression{
			groups(`groups.filter(g, g != "x")`)}})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, _, err := p.Evaluate(ctx, "u", many(1000, 1)); !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	})
}

func TestEmpty(t *testing.T) {
	t.Parallel()
	var nilPipeline *Pipeline
	u, g, err := nilPipeline.Evaluate(context.Background(), "u", nil)
	if !nilPipeline.Empty() || err != nil || u != "u" || g == nil || len(g) != 0 {
		t.Errorf("nil pipeline: %q %v %v", u, g, err)
	}
	if !mustCompile(t, configv1alpha1.FederationDomainTransforms{Constants: contractConstants()}).Empty() {
		t.Error("a pipeline with constants only is not empty")
	}
}
