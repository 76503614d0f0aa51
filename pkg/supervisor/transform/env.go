// SPDX-License-Identifier: Apache-2.0

package transform

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
)

// The CEL variables (docs/wire-contract.md §1.6). The constants are maps, as in the reference,
// so that strConst.name and strConst["name"] both work.
const (
	varUsername     = "username"
	varGroups       = "groups"
	varStrConst     = "strConst"
	varStrListConst = "strListConst"
)

// newEnv is the CEL environment of every expression: the variables, the standard
// library, the strings extension, homogeneous aggregate literals and UTC as the default
// time zone.
func newEnv() (*cel.Env, error) {
	env, err := cel.NewEnv(
		cel.Variable(varUsername, cel.StringType),
		cel.Variable(varGroups, cel.ListType(cel.StringType)),
		cel.Variable(varStrConst, cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable(varStrListConst, cel.MapType(cel.StringType, cel.ListType(cel.StringType))),
		ext.Strings(),
		cel.HomogeneousAggregateLiterals(),
		cel.DefaultUTCTimeZone(true),
	)
	if err != nil {
		return nil, fmt.Errorf("create the CEL environment: %w", err)
	}
	return env, nil
}

// resultType is the result type of an expression type.
func resultType(typ string) (*cel.Type, bool) {
	switch typ {
	case configv1alpha1.TransformsExpressionTypePolicy:
		return cel.BoolType, true
	case configv1alpha1.TransformsExpressionTypeUsername:
		return cel.StringType, true
	case configv1alpha1.TransformsExpressionTypeGroups:
		return cel.ListType(cel.StringType), true
	}
	return nil, false
}

// compile type-checks one expression against its type, checks the constants it names
// and its estimated cost, and plans it with the runtime limits.
func (p *Pipeline) compile(env *cel.Env, e configv1alpha1.FederationDomainTransformsExpression) (cel.Program, error) {
	want, ok := resultType(e.Type)
	if !ok {
		return nil, fmt.Errorf("unknown expression type %q (want %s, %s or %s)", e.Type, configv1alpha1.TransformsExpressionTypePolicy,
			configv1alpha1.TransformsExpressionTypeUsername, configv1alpha1.TransformsExpressionTypeGroups)
	}
	checked, issues := env.Compile(e.Expression)
	if issues != nil && issues.Err() != nil {
		return nil, issues.Err()
	}
	if got := checked.OutputType(); !assignable(want, got) {
		return nil, fmt.Errorf("the expression returns %s, want %s", got, want)
	}
	if err := p.checkConstants(checked); err != nil {
		return nil, err
	}
	cost, err := env.EstimateCost(checked, p.estimator())
	if err != nil {
		return nil, fmt.Errorf("estimate the cost: %w", err)
	}
	if cost.Max > CostLimit {
		return nil, fmt.Errorf("the estimated cost %d exceeds the limit %d (estimated for a username of %d characters and %d groups of %d)",
			cost.Max, CostLimit, estimatedUsernameLength, estimatedGroups, estimatedGroupLength)
	}
	prg, err := env.Program(checked, cel.CostLimit(CostLimit), cel.InterruptCheckFrequency(interruptCheckFrequency))
	if err != nil {
		return nil, err
	}
	return prg, nil
}

// assignable says a value of type got may be what want needs; dyn (and a type left
// open, like the element type of []) is decided at runtime.
func assignable(want, got *cel.Type) bool {
	switch got.Kind() {
	case types.DynKind, types.TypeParamKind:
		return true
	}
	if want.Kind() != got.Kind() || len(want.Parameters()) != len(got.Parameters()) {
		return false
	}
	for i, param := range want.Parameters() {
		if !assignable(param, got.Parameters()[i]) {
			return false
		}
	}
	return true
}

// checkConstants refuses strConst.x and strListConst.x for constants that are not
// declared (with their type), which would otherwise fail only at login.
func (p *Pipeline) checkConstants(checked *cel.Ast) error {
	var errs []error
	ast.PreOrderVisit(checked.NativeRep().Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() != ast.SelectKind || e.AsSelect().IsTestOnly() || e.AsSelect().Operand().Kind() != ast.IdentKind {
			return
		}
		field := e.AsSelect().FieldName()
		switch e.AsSelect().Operand().AsIdent() {
		case varStrConst:
			if _, ok := p.strs[field]; !ok {
				errs = append(errs, fmt.Errorf("strConst.%s is not a constant of type string", field))
			}
		case varStrListConst:
			if _, ok := p.lists[field]; !ok {
				errs = append(errs, fmt.Errorf("strListConst.%s is not a constant of type stringList", field))
			}
		}
	}))
	return errors.Join(errs...)
}

// estimator gives the cost estimate the sizes of the variables: the assumed sizes of the
// identity and the actual sizes of the constants.
func (p *Pipeline) estimator() checker.CostEstimator {
	var longestStr, longestList, longestItem uint64
	for _, s := range p.strs {
		longestStr = max(longestStr, uint64(len(s)))
	}
	for _, list := range p.lists {
		longestList = max(longestList, uint64(len(list)))
		for _, s := range list {
			longestItem = max(longestItem, uint64(len(s)))
		}
	}
	return sizes{
		varUsername:                         estimatedUsernameLength,
		varGroups:                           estimatedGroups,
		varGroups + ".@items":               estimatedGroupLength,
		varStrConst + ".@values":            longestStr,
		varStrListConst + ".@values":        longestList,
		varStrListConst + ".@values.@items": longestItem,
		varStrConst + ".@keys":              64,
		varStrListConst + ".@keys":          64,
		varStrConst:                         uint64(len(p.strs)),
		varStrListConst:                     uint64(len(p.lists)),
	}
}

// sizes is a checker.CostEstimator over the paths of the variables.
type sizes map[string]uint64

func (s sizes) EstimateSize(element checker.AstNode) *checker.SizeEstimate {
	path := slices.Clone(element.Path())
	// A field of a constant map (strConst.prefix) is one of its values.
	if len(path) >= 2 && (path[0] == varStrConst || path[0] == varStrListConst) && path[1] != "@keys" {
		path[1] = "@values"
	}
	size, ok := s[strings.Join(path, ".")]
	if !ok {
		return nil
	}
	return &checker.SizeEstimate{Min: 0, Max: size}
}

func (sizes) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}
