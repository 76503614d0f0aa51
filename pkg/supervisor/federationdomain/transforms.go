// SPDX-License-Identifier: Apache-2.0

package federationdomain

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
	"github.com/selkie-dev/selkie/pkg/supervisor/transform"
)

const (
	okExpressions = "the expressions specified by .spec.identityProviders[].transforms.expressions[] are valid"
	okExamples    = "the examples specified by .spec.identityProviders[].transforms.examples[] had no errors"
)

// validateTransforms compiles the transforms of every identity provider of the domain
// into refs[i].pipeline and runs their examples. Invalid expressions make the domain
// unusable (TransformsExpressionsValid False); failing examples disable only their
// identity provider in this domain (refs[i].disabled, TransformsExamplesPassed False).
func validateTransforms(ctx context.Context, refs []idpRef) []metav1.Condition {
	var badExprs, badExamples, invalidNames, failedNames []string
	for i := range refs {
		ref := &refs[i]
		if ref.spec == nil {
			continue
		}
		p, err := transform.Compile(ref.spec.Transforms)
		if err != nil {
			invalidNames = append(invalidNames, fmt.Sprintf("%q", ref.displayName))
			badExprs = append(badExprs, fmt.Sprintf("identity provider %q:\n%s", ref.displayName, err))
			ref.disabled = true
			continue
		}
		ref.pipeline = p
		if failures := p.RunExamples(ctx); len(failures) > 0 {
			ref.disabled = true
			failedNames = append(failedNames, fmt.Sprintf("%q", ref.displayName))
			lines := make([]string, len(failures))
			for j, f := range failures {
				lines[j] = f.Error()
			}
			badExamples = append(badExamples, fmt.Sprintf("identity provider %q:\n%s", ref.displayName, strings.Join(lines, "\n")))
		}
	}
	exprs := cond(configv1alpha1.ConditionTransformsExpressionsValid, len(badExprs) == 0, configv1alpha1.ReasonInvalidTransformsExpressions,
		fmt.Sprintf("the expressions specified by .spec.identityProviders[].transforms.expressions[] of %s are invalid:\n\n%s",
			strings.Join(invalidNames, ", "), strings.Join(badExprs, "\n\n")), okExpressions)
	examples := cond(configv1alpha1.ConditionTransformsExamplesPassed, len(badExamples) == 0, configv1alpha1.ReasonTransformsExamplesFailed,
		fmt.Sprintf("the examples specified by .spec.identityProviders[].transforms.examples[] of %s failed, so they are disabled in this FederationDomain:\n\n%s",
			strings.Join(failedNames, ", "), strings.Join(badExamples, "\n\n")), okExamples)
	if len(badExamples) == 0 && len(badExprs) > 0 {
		// The examples of an identity provider whose expressions do not compile cannot run.
		examples = condOr(false, configv1alpha1.ConditionTransformsExamplesPassed, false, "", "", "")
	}
	return []metav1.Condition{exprs, examples}
}

// transformFunc adapts a compiled pipeline to the provider's hook; a policy rejection
// stays a *transform.RejectedError.
func transformFunc(p *transform.Pipeline) oidcprovider.Transform {
	return p.Evaluate
}
