// SPDX-License-Identifier: Apache-2.0

package transform

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
)

const (
	// CostLimit bounds the runtime cost of one evaluation of one expression, in cel-go
	// cost units (about one per elementary operation; string and list operations cost
	// in proportion to their sizes). Compile also refuses an expression whose estimated
	// worst-case cost, for identities within the sizes below, is higher.
	CostLimit = 1_000_000
	// Timeout bounds one evaluation of the whole pipeline (contract: at most 5 s).
	Timeout = 5 * time.Second

	// The sizes the cost estimate assumes for the upstream identity; evaluation is not
	// limited to them (the runtime cost limit applies to the actual identity).
	estimatedUsernameLength = 256
	estimatedGroups         = 1000
	estimatedGroupLength    = 256

	// interruptCheckFrequency is how many comprehension iterations run between checks
	// of the evaluation's deadline.
	interruptCheckFrequency = 100
)

// RejectedError is an identity refused by a policy/v1 expression; Message is meant for
// the user.
type RejectedError struct{ Message string }

func (e *RejectedError) Error() string { return "rejected by policy: " + e.Message }

// Pipeline is the compiled transforms of one identity provider. Its zero value (and a
// nil *Pipeline) keeps identities as they are.
type Pipeline struct {
	exprs    []compiled
	strs     map[string]string
	lists    map[string][]string
	examples []configv1alpha1.FederationDomainTransformsExample
	timeout  time.Duration
}

// compiled is one expression, ready to run.
type compiled struct {
	// name says which expression it is in errors: "expressions[2] (groups/v1)".
	name    string
	typ     string
	message string
	program cel.Program
}

// Compile compiles the constants and expressions of spec and keeps its examples for
// RunExamples. The error names every expression that does not compile, has the wrong
// result type or may cost too much.
func Compile(spec configv1alpha1.FederationDomainTransforms) (*Pipeline, error) {
	p := &Pipeline{strs: map[string]string{}, lists: map[string][]string{}, examples: spec.Examples, timeout: Timeout}
	var errs []error
	for i, c := range spec.Constants {
		_, dupStr := p.strs[c.Name]
		_, dupList := p.lists[c.Name]
		switch {
		case dupStr || dupList:
			errs = append(errs, fmt.Errorf("constants[%d]: duplicate name %q", i, c.Name))
		case c.Type == configv1alpha1.TransformsConstantTypeString:
			p.strs[c.Name] = c.StringValue
		case c.Type == configv1alpha1.TransformsConstantTypeStringList:
			p.lists[c.Name] = c.StringListValue
		default:
			errs = append(errs, fmt.Errorf("constants[%d]: unknown type %q", i, c.Type))
		}
	}
	env, err := newEnv()
	if err != nil {
		return nil, err
	}
	for i, e := range spec.Expressions {
		name := fmt.Sprintf("expressions[%d] (%s)", i, e.Type)
		prg, err := p.compile(env, e)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		msg := e.Message
		if msg == "" {
			msg = configv1alpha1.DefaultPolicyRejectedMessage
		}
		p.exprs = append(p.exprs, compiled{name: name, typ: e.Type, message: msg, program: prg})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// Empty says the pipeline has no expressions, so it keeps every identity as it is.
func (p *Pipeline) Empty() bool { return p == nil || len(p.exprs) == 0 }

// Evaluate runs the expressions in order on an upstream identity and returns the
// downstream one, a *RejectedError when a policy says no, or an error naming the
// expression that failed. Groups come back as the expressions leave them (neither
// sorted nor de-duplicated).
func (p *Pipeline) Evaluate(ctx context.Context, username string, groups []string) (string, []string, error) {
	if groups == nil {
		groups = []string{}
	}
	if p.Empty() {
		return username, groups, nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	for _, e := range p.exprs {
		val, _, err := e.program.ContextEval(ctx, map[string]any{
			varUsername: username, varGroups: groups, varStrConst: p.strs, varStrListConst: p.lists})
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", e.name, err)
		}
		switch e.typ {
		case configv1alpha1.TransformsExpressionTypePolicy:
			allowed, ok := val.Value().(bool)
			if !ok {
				return "", nil, fmt.Errorf("%s: returned %s, want a bool", e.name, val.Type().TypeName())
			}
			if !allowed {
				return "", nil, &RejectedError{Message: e.message}
			}
		case configv1alpha1.TransformsExpressionTypeUsername:
			s, ok := val.Value().(string)
			if !ok {
				return "", nil, fmt.Errorf("%s: returned %s, want a string", e.name, val.Type().TypeName())
			}
			if strings.TrimSpace(s) == "" {
				return "", nil, fmt.Errorf("%s: returned a blank username", e.name)
			}
			username = s
		case configv1alpha1.TransformsExpressionTypeGroups:
			if groups, err = stringList(val); err != nil {
				return "", nil, fmt.Errorf("%s: %w", e.name, err)
			}
		}
	}
	return username, groups, nil
}

// stringList converts a groups/v1 result.
func stringList(val ref.Val) ([]string, error) {
	if val.Type() == types.NullType {
		return nil, errors.New("returned null, want a list of strings")
	}
	native, err := val.ConvertToNative(reflect.TypeFor[[]string]())
	if err != nil {
		return nil, fmt.Errorf("returned %s, want a list of strings: %w", val.Type().TypeName(), err)
	}
	list, _ := native.([]string)
	if list == nil {
		list = []string{}
	}
	return list, nil
}
