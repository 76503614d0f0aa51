// SPDX-License-Identifier: Apache-2.0

package transform

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
)

// ExampleFailure is an example whose result is not what it expects.
type ExampleFailure struct {
	// Index is the example's position in transforms.examples.
	Index    int
	Username string
	// Problem says what was expected and what happened.
	Problem string
}

func (f ExampleFailure) Error() string {
	return fmt.Sprintf("examples[%d] (username %q): %s", f.Index, f.Username, f.Problem)
}

// RunExamples evaluates every example and returns those that fail. An example expects
// either a rejection with a message (the default policy message when empty), or, when
// it is not rejected but has a message, an error containing that message, or else the
// username and groups (compared after sorting and de-duplication).
func (p *Pipeline) RunExamples(ctx context.Context) []ExampleFailure {
	if p == nil {
		return nil
	}
	var failures []ExampleFailure
	for i, ex := range p.examples {
		if problem := p.runExample(ctx, ex); problem != "" {
			failures = append(failures, ExampleFailure{Index: i, Username: ex.Username, Problem: problem})
		}
	}
	return failures
}

// runExample returns what is wrong with one example's result, or "".
func (p *Pipeline) runExample(ctx context.Context, ex configv1alpha1.FederationDomainTransformsExample) string {
	want := ex.Expects
	username, groups, err := p.Evaluate(ctx, ex.Username, ex.Groups)
	var rejected *RejectedError
	isRejected := errors.As(err, &rejected)
	switch {
	case want.Rejected:
		msg := want.Message
		if msg == "" {
			msg = configv1alpha1.DefaultPolicyRejectedMessage
		}
		switch {
		case isRejected && rejected.Message != msg:
			return fmt.Sprintf("expected a rejection with message %q, got one with message %q", msg, rejected.Message)
		case !isRejected && err != nil:
			return fmt.Sprintf("expected a rejection with message %q, got the error %q", msg, err)
		case !isRejected:
			return "expected a rejection, the identity was accepted"
		}
	case isRejected:
		return fmt.Sprintf("expected no rejection, got one with message %q", rejected.Message)
	case want.Message != "":
		if err == nil || !strings.Contains(err.Error(), want.Message) {
			return fmt.Sprintf("expected an error containing %q, got %s", want.Message, describe(err))
		}
	case err != nil:
		return fmt.Sprintf("expected no error, got %q", err)
	default:
		var problems []string
		if username != want.Username {
			problems = append(problems, fmt.Sprintf("expected username %q, got %q", want.Username, username))
		}
		if got, exp := normalize(groups), normalize(want.Groups); !slices.Equal(got, exp) {
			problems = append(problems, fmt.Sprintf("expected groups %q, got %q", exp, got))
		}
		return strings.Join(problems, "; ")
	}
	return ""
}

func describe(err error) string {
	if err == nil {
		return "no error"
	}
	return fmt.Sprintf("the error %q", err)
}

// normalize sorts and de-duplicates groups, as the supervisor does after the
// transforms; nil and empty are the same.
func normalize(groups []string) []string {
	out := slices.Clone(groups)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
