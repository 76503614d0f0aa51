// SPDX-License-Identifier: Apache-2.0

package federationdomain

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/transform"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// withTransforms is ref with transforms: expressions as type=source pairs and examples.
func withTransforms(r configv1alpha1.FederationDomainIdentityProvider, exprs []string, examples ...configv1alpha1.FederationDomainTransformsExample) configv1alpha1.FederationDomainIdentityProvider {
	for _, e := range exprs {
		typ, src, _ := strings.Cut(e, "=")
		r.Transforms.Expressions = append(r.Transforms.Expressions, configv1alpha1.FederationDomainTransformsExpression{Type: typ, Expression: src, Message: "no"})
	}
	r.Transforms.Examples = examples
	return r
}

func example(username, wantUsername string, rejected bool) configv1alpha1.FederationDomainTransformsExample {
	ex := configv1alpha1.FederationDomainTransformsExample{Username: username,
		Expects: configv1alpha1.FederationDomainTransformsExampleExpects{Username: wantUsername, Rejected: rejected}}
	if rejected {
		ex.Expects.Message = "no"
	}
	return ex
}

func TestValidateTransforms(t *testing.T) {
	t.Parallel()
	oidc := upstream.Key{Kind: upstream.KindOIDC, Name: "okta"}
	ldap := upstream.Key{Kind: upstream.KindLDAP, Name: "corp"}
	okta := ref("okta", idpGroup, upstream.KindOIDC, "okta")
	corp := ref("corp", idpGroup, upstream.KindLDAP, "corp")
	prefix := []string{`username/v1="x:" + username`}
	for _, tc := range []struct {
		name         string
		idps         []configv1alpha1.FederationDomainIdentityProvider
		wantExprs    metav1.Condition
		wantExamples metav1.Condition
		wantMessages []string
		wantReady    bool
		wantServe    bool
		wantDisabled []string
	}{
		{name: "legacy mode", wantReady: true, wantServe: true,
			wantExprs:    metav1.Condition{Status: metav1.ConditionTrue, Reason: configv1alpha1.ReasonSuccess},
			wantExamples: metav1.Condition{Status: metav1.ConditionTrue, Reason: configv1alpha1.ReasonSuccess}},
		{name: "valid, examples pass", idps: []configv1alpha1.FederationDomainIdentityProvider{
			withTransforms(okta, append([]string{`policy/v1=username != "root"`}, prefix...), example("a", "x:a", false), example("root", "", true)), corp},
			wantReady: true, wantServe: true,
			wantExprs:    metav1.Condition{Status: metav1.ConditionTrue, Reason: configv1alpha1.ReasonSuccess},
			wantExamples: metav1.Condition{Status: metav1.ConditionTrue, Reason: configv1alpha1.ReasonSuccess}},
		{name: "an invalid expression stops the domain", idps: []configv1alpha1.FederationDomainIdentityProvider{
			withTransforms(okta, []string{"policy/v1=username"}), corp},
			wantDisabled: []string{"okta"},
			wantExprs:    metav1.Condition{Status: metav1.ConditionFalse, Reason: configv1alpha1.ReasonInvalidTransformsExpressions},
			wantExamples: metav1.Condition{Status: metav1.ConditionUnknown, Reason: configv1alpha1.ReasonUnableToValidate},
			wantMessages: []string{`of "okta" are invalid`, `identity provider "okta":` + "\n" + `expressions[0] (policy/v1): the expression returns string, want bool`}},
		{name: "a failing example disables its IdP only", idps: []configv1alpha1.FederationDomainIdentityProvider{
			withTransforms(okta, prefix, example("a", "a", false)), withTransforms(corp, prefix, example("a", "x:a", false))},
			wantServe: true, wantDisabled: []string{"okta"},
			wantExprs:    metav1.Condition{Status: metav1.ConditionTrue, Reason: configv1alpha1.ReasonSuccess},
			wantExamples: metav1.Condition{Status: metav1.ConditionFalse, Reason: configv1alpha1.ReasonTransformsExamplesFailed},
			wantMessages: []string{`of "okta" failed, so they are disabled in this FederationDomain`,
				`identity provider "okta":` + "\n" + `examples[0] (username "a"): expected username "a", got "x:a"`}},
		{name: "examples without expressions", idps: []configv1alpha1.FederationDomainIdentityProvider{withTransforms(okta, nil, example("a", "a", false), example("b", "", true))},
			wantServe: true, wantDisabled: []string{"okta"},
			wantExprs:    metav1.Condition{Status: metav1.ConditionTrue, Reason: configv1alpha1.ReasonSuccess},
			wantExamples: metav1.Condition{Status: metav1.ConditionFalse, Reason: configv1alpha1.ReasonTransformsExamplesFailed},
			wantMessages: []string{`examples[1] (username "b"): expected a rejection, the identity was accepted`}},
		{name: "both", idps: []configv1alpha1.FederationDomainIdentityProvider{
			withTransforms(okta, []string{"groups/v1=username"}), withTransforms(corp, nil, example("a", "b", false))},
			wantDisabled: []string{"okta", "corp"},
			wantExprs:    metav1.Condition{Status: metav1.ConditionFalse, Reason: configv1alpha1.ReasonInvalidTransformsExpressions},
			wantExamples: metav1.Condition{Status: metav1.ConditionFalse, Reason: configv1alpha1.ReasonTransformsExamplesFailed},
			wantMessages: []string{`of "okta" are invalid`, `of "corp" failed`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			existing := []upstream.Key{oidc, ldap}
			if tc.idps == nil {
				existing = existing[:1]
			}
			v := validateAll(context.Background(), []configv1alpha1.FederationDomain{fd("a", "https://id.example.com/a", "", tc.idps...)}, existing, idpGroup)["a"]
			exprs, examples := condition(v, configv1alpha1.ConditionTransformsExpressionsValid), condition(v, configv1alpha1.ConditionTransformsExamplesPassed)
			got := []metav1.Condition{{Status: exprs.Status, Reason: exprs.Reason}, {Status: examples.Status, Reason: examples.Reason}}
			if diff := cmp.Diff([]metav1.Condition{tc.wantExprs, tc.wantExamples}, got); diff != "" {
				t.Errorf("conditions (-want +got):\n%s\n%s\n%s", diff, exprs.Message, examples.Message)
			}
			for _, want := range tc.wantMessages {
				if !strings.Contains(exprs.Message+"\n"+examples.Message, want) {
					t.Errorf("messages do not contain %q:\n%s\n%s", want, exprs.Message, examples.Message)
				}
			}
			if v.ready != tc.wantReady || v.serve != tc.wantServe {
				t.Errorf("ready %v serve %v, want %v %v", v.ready, v.serve, tc.wantReady, tc.wantServe)
			}
			if ready := condition(v, configv1alpha1.ConditionReady); (ready.Status == metav1.ConditionTrue) != tc.wantReady {
				t.Errorf("Ready condition %v, want %v", ready.Status, tc.wantReady)
			}
			var disabled []string
			for _, r := range v.idps {
				if r.disabled {
					disabled = append(disabled, r.displayName)
				}
			}
			if diff := cmp.Diff(tc.wantDisabled, disabled); diff != "" {
				t.Errorf("disabled IdPs (-want +got):\n%s", diff)
			}
		})
	}
}

// fakeProvider is enough of an upstream for the domain's IdP list.
type fakeProvider struct{ name string }

func (f fakeProvider) Type() string                                        { return upstream.TypeOIDC }
func (f fakeProvider) Namespace() string                                   { return "ns" }
func (f fakeProvider) Name() string                                        { return f.name }
func (f fakeProvider) UID() string                                         { return "uid-" + f.name }
func (f fakeProvider) Flows() []string                                     { return nil }
func (f fakeProvider) DownstreamSubject(string, *upstream.Identity) string { return "" }

func TestUsableIdPsRunTransforms(t *testing.T) {
	t.Parallel()
	registry := upstream.NewRegistry()
	for _, name := range []string{"okta", "corp", "gone"} {
		registry.Set(upstream.Key{Kind: upstream.KindOIDC, Name: name}, fakeProvider{name})
	}
	okta := withTransforms(ref("okta", idpGroup, upstream.KindOIDC, "okta"),
		[]string{`policy/v1=!("contractors" in groups)`, `username/v1="okta:" + username`, `groups/v1=groups.map(g, "okta:" + g)`})
	corp := withTransforms(ref("corp", idpGroup, upstream.KindOIDC, "corp"), []string{`username/v1="corp:" + username`}, example("a", "a", false))
	plain := ref("gone", idpGroup, upstream.KindOIDC, "gone")
	existing := []upstream.Key{{Kind: upstream.KindOIDC, Name: "okta"}, {Kind: upstream.KindOIDC, Name: "corp"}, {Kind: upstream.KindOIDC, Name: "gone"}}
	v := validateAll(context.Background(), []configv1alpha1.FederationDomain{fd("a", "https://id.example.com/a", "", okta, corp, plain)}, existing, idpGroup)["a"]
	r := &Reconciler{Registry: registry}
	idps := r.usableIdPs(v)
	var names []string
	for _, idp := range idps {
		names = append(names, idp.DisplayName)
	}
	if diff := cmp.Diff([]string{"okta", "gone"}, names); diff != "" {
		t.Fatalf("usable IdPs (-want +got):\n%s", diff)
	}
	if idps[1].Transform != nil {
		t.Error("an IdP without expressions has a transform")
	}
	username, groups, err := idps[0].Transform(context.Background(), "pinny", []string{"seals"})
	if err != nil || username != "okta:pinny" || !cmp.Equal(groups, []string{"okta:seals"}) {
		t.Errorf("transform: %q %v %v", username, groups, err)
	}
	_, _, err = idps[0].Transform(context.Background(), "pinny", []string{"contractors"})
	var rejected *transform.RejectedError
	if !errors.As(err, &rejected) || rejected.Message != "no" {
		t.Errorf("rejection %v, want a *transform.RejectedError with the policy's message", err)
	}
}

func TestLongMessagesAreTruncated(t *testing.T) {
	t.Parallel()
	var examples []configv1alpha1.FederationDomainTransformsExample
	for range 500 {
		examples = append(examples, example(strings.Repeat("é", 60), "x", false))
	}
	v := validateAll(context.Background(), []configv1alpha1.FederationDomain{fd("a", "https://id.example.com/a", "",
		withTransforms(ref("okta", idpGroup, upstream.KindOIDC, "okta"), nil, examples...))},
		[]upstream.Key{{Kind: upstream.KindOIDC, Name: "okta"}}, idpGroup)["a"]
	msg := condition(v, configv1alpha1.ConditionTransformsExamplesPassed).Message
	if len(msg) > 32768 || !strings.HasSuffix(msg, "(truncated)") || !utf8.ValidString(msg) {
		t.Errorf("message of %d bytes ending %q", len(msg), msg[len(msg)-20:])
	}
}
