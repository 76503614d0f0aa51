// SPDX-License-Identifier: Apache-2.0

package jwt

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/apis/apiserver"
	apiservervalidation "k8s.io/apiserver/pkg/apis/apiserver/validation"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	authenticationcel "k8s.io/apiserver/pkg/authentication/cel"
	"k8s.io/apiserver/pkg/cel/library"
	"k8s.io/utils/ptr"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/internal/engine"
)

// costLimit is the most an expression may be estimated to cost on the largest token the
// estimate assumes: the per-call limit Kubernetes gives each CEL expression of an
// admission policy or a CRD rule, about 0.1 s of CPU. The same limit holds at run time,
// whatever the token, so a token can never make an expression cost more.
const costLimit = celconfig.PerCallLimit

// What the cost estimate assumes of every value whose size it cannot know (a claim, or
// what is computed from one): strings of at most maxEstimatedString characters, lists
// and maps of at most maxEstimatedElements elements. They cover the tokens CI systems and
// identity providers issue (GitHub Actions' longest claims are under 300 characters;
// a thousand groups is a large directory user). A bigger token is still bounded by the
// run-time limit.
const (
	maxEstimatedString   = 512
	maxEstimatedElements = 1024
)

// maxRulesMessage bounds the ClaimRulesValid message (a condition message may hold 32 KiB;
// a hundred broken expressions with their compiler output would exceed it).
const maxRulesMessage = 8 << 10

// apiserverAuthenticator is spec (with defaults) as the configuration of Kubernetes' own
// JWT authenticator, which does the validation and the mapping.
func apiserverAuthenticator(spec authenticationv1alpha1.JWTAuthenticatorSpec) apiserver.JWTAuthenticator {
	c := spec.Claims
	claimOrExpression := func(claim, expression string) apiserver.PrefixedClaimOrExpression {
		if expression != "" {
			return apiserver.PrefixedClaimOrExpression{Expression: expression}
		}
		// Values read by claim name are used without a prefix (docs/wire-contract.md).
		return apiserver.PrefixedClaimOrExpression{Claim: claim, Prefix: ptr.To("")}
	}
	out := apiserver.JWTAuthenticator{
		Issuer: apiserver.Issuer{URL: spec.Issuer, Audiences: []string{spec.Audience}},
		ClaimMappings: apiserver.ClaimMappings{
			Username: claimOrExpression(c.Username, c.UsernameExpression),
			Groups:   claimOrExpression(c.Groups, c.GroupsExpression),
			UID:      apiserver.ClaimOrExpression{Claim: c.UID, Expression: c.UIDExpression},
		},
	}
	for _, r := range spec.ClaimValidationRules {
		out.ClaimValidationRules = append(out.ClaimValidationRules, apiserver.ClaimValidationRule{
			Claim: r.Claim, RequiredValue: r.RequiredValue, Expression: r.Expression, Message: r.Message})
	}
	for _, e := range c.Extra {
		out.ClaimMappings.Extra = append(out.ClaimMappings.Extra, apiserver.ExtraMapping{Key: e.Key, ValueExpression: e.ValueExpression})
	}
	// The user's rules keep their indexes; the concierge's own come after them.
	for _, r := range spec.UserValidationRules {
		out.UserValidationRules = append(out.UserValidationRules, apiserver.UserValidationRule{Expression: r.Expression, Message: r.Message})
	}
	out.UserValidationRules = append(out.UserValidationRules, reservedIdentityRules()...)
	return out
}

// checkClaimRules checks the claim validation rules, the claim mappings and the user
// validation rules without contacting the issuer: Kubernetes' own validation of them,
// then, for each CEL expression, its result type and its estimated cost.
func (p *probe) checkClaimRules(context.Context) (string, *engine.Failure) {
	config := apiserverAuthenticator(p.Spec)
	_, errs := apiservervalidation.CompileAndValidateJWTAuthenticator(authenticationcel.NewDefaultCompiler(), config, nil)
	var problems []string
	for _, e := range errs {
		if strings.HasPrefix(e.Field, "issuer") {
			continue // the IssuerURLValid and DiscoveryURLValid conditions report the issuer
		}
		problems = append(problems, specField(e.Field)+": "+fieldErrorText(e))
	}
	if len(problems) == 0 {
		problems = append(problems, checkExpressions(p.Spec)...)
	}
	if len(problems) > 0 {
		msg := strings.Join(problems, "; ")
		if len(msg) > maxRulesMessage {
			msg = msg[:maxRulesMessage] + "… (truncated)"
		}
		return fail(authenticationv1alpha1.ReasonInvalidClaimRules, "%s", msg)
	}
	if c := p.Spec.Claims; c.UID != "" || c.UIDExpression != "" || len(c.Extra) > 0 {
		return "claim rules and mappings are valid; spec.claims maps a UID or extras, which a client certificate " +
			"cannot carry: TokenCredentialRequests fail for users who get one; the impersonation proxy carries " +
			"extras (not a UID) for bearer tokens", nil
	}
	return "", nil
}

// fieldErrorText is the error without its field path, which specField rewrites.
func fieldErrorText(e *field.Error) string { return e.ErrorBody() }

// specField rewrites a field path of Kubernetes' JWT authenticator configuration as the
// JWTAuthenticator field it came from.
func specField(path string) string {
	for _, r := range []struct{ from, to string }{
		{"claimMappings.username.expression", "spec.claims.usernameExpression"},
		{"claimMappings.groups.expression", "spec.claims.groupsExpression"},
		{"claimMappings.uid.expression", "spec.claims.uidExpression"},
		{"claimMappings.username", "spec.claims.username"},
		{"claimMappings.groups", "spec.claims.groups"},
		{"claimMappings.uid", "spec.claims.uid"},
		{"claimMappings.extra", "spec.claims.extra"},
		{"claimMappings", "spec.claims"},
		{"claimValidationRules", "spec.claimValidationRules"},
		{"userValidationRules", "spec.userValidationRules"},
	} {
		if rest, ok := strings.CutPrefix(path, r.from); ok {
			return r.to + rest
		}
	}
	return path
}

// expression is one CEL expression of the spec, with what it may return.
type expression struct {
	field, source string
	user          bool // over `user` rather than `claims`
	returns       []*cel.Type
}

func expressions(spec authenticationv1alpha1.JWTAuthenticatorSpec) []expression {
	str, list := cel.StringType, cel.ListType(cel.StringType)
	var out []expression
	add := func(field, source string, user bool, returns ...*cel.Type) {
		if source != "" {
			out = append(out, expression{field: field, source: source, user: user, returns: returns})
		}
	}
	for i, r := range spec.ClaimValidationRules {
		add(fmt.Sprintf("spec.claimValidationRules[%d].expression", i), r.Expression, false, cel.BoolType)
	}
	add("spec.claims.usernameExpression", spec.Claims.UsernameExpression, false, str)
	add("spec.claims.groupsExpression", spec.Claims.GroupsExpression, false, str, list)
	add("spec.claims.uidExpression", spec.Claims.UIDExpression, false, str)
	for i, e := range spec.Claims.Extra {
		add(fmt.Sprintf("spec.claims.extra[%d].valueExpression", i), e.ValueExpression, false, str, list)
	}
	for i, r := range spec.UserValidationRules {
		add(fmt.Sprintf("spec.userValidationRules[%d].expression", i), r.Expression, true, cel.BoolType)
	}
	return out
}

// checkExpressions checks what Kubernetes' validation leaves to run time: that an
// expression's type can be what its field needs (a claim is dynamic, so `claims.sub`
// passes and a literal number does not) and that its estimated cost is within costLimit.
func checkExpressions(spec authenticationv1alpha1.JWTAuthenticatorSpec) []string {
	exprs := expressions(spec)
	if len(exprs) == 0 {
		return nil
	}
	// Kubernetes' compiler, the one that evaluates them: the expressions compiled in
	// CompileAndValidateJWTAuthenticator, compiled again here for their syntax trees.
	compiler := authenticationcel.NewDefaultCompiler()
	var problems []string
	for _, e := range exprs {
		var compiled authenticationcel.CompilationResult
		var err error
		if e.user {
			compiled, err = compiler.CompileUserExpression(&authenticationcel.UserValidationCondition{Expression: e.source})
		} else {
			compiled, err = compiler.CompileClaimsExpression(&authenticationcel.ClaimMappingExpression{Expression: e.source})
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", e.field, err))
			continue
		}
		ast := compiled.AST
		if !returnsOneOf(ast.OutputType(), e.returns) {
			problems = append(problems, fmt.Sprintf("%s: returns %s, must return %s", e.field, ast.OutputType(), typeNames(e.returns)))
			continue
		}
		cost, err := checker.Cost(ast.NativeRep(), &library.CostEstimator{SizeEstimator: claimSizes{}})
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: cost could not be estimated: %v", e.field, err))
			continue
		}
		if cost.Max > costLimit {
			problems = append(problems, fmt.Sprintf("%s: estimated cost %s exceeds the limit of %d for claims of up to %d characters or %d elements; "+
				"simplify the expression (nested loops over claims cost the most)", e.field, costText(cost.Max), costLimit, maxEstimatedString, maxEstimatedElements))
		}
	}
	return problems
}

func returnsOneOf(t *cel.Type, allowed []*cel.Type) bool {
	if t.IsExactType(cel.DynType) || t.IsExactType(cel.AnyType) {
		return true // a claim: its type is known only at run time
	}
	for _, a := range allowed {
		if t.IsExactType(a) {
			return true
		}
	}
	return false
}

func typeNames(types []*cel.Type) string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = t.String()
	}
	return strings.Join(names, " or ")
}

func costText(c uint64) string {
	if c == math.MaxUint64 {
		return "unbounded"
	}
	return fmt.Sprint(c)
}

// claimSizes bounds the size of every value the estimate cannot size.
type claimSizes struct{}

func (claimSizes) EstimateSize(node checker.AstNode) *checker.SizeEstimate {
	if node.Type() != nil && node.Type().IsExactType(cel.StringType) {
		return &checker.SizeEstimate{Min: 0, Max: maxEstimatedString}
	}
	return &checker.SizeEstimate{Min: 0, Max: maxEstimatedElements}
}

func (claimSizes) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}
