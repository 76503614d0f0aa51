// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// countingAuthorizer answers with decision (or err) and counts the calls.
type countingAuthorizer struct {
	calls    int
	decision authorizer.Decision
	err      error
}

func (a *countingAuthorizer) Authorize(context.Context, authorizer.Attributes) (authorizer.Decision, string, error) {
	a.calls++
	return a.decision, "reason " + string(rune('0'+a.calls)), a.err
}

func baseAttributes() authorizer.AttributesRecord {
	return authorizer.AttributesRecord{
		User: &user.DefaultInfo{Name: "pinny", UID: "u1", Groups: []string{"seals", "system:authenticated"},
			Extra: map[string][]string{"scopes": {"a", "b"}}},
		Verb: "list", Namespace: "default", APIGroup: "apps", APIVersion: "v1", Resource: "deployments",
		Subresource: "", Name: "", ResourceRequest: true, Path: "/apis/apps/v1/namespaces/default/deployments",
	}
}

func mustLabels(t *testing.T, key string, op selection.Operator, values ...string) labels.Requirements {
	t.Helper()
	r, err := labels.NewRequirement(key, op, values)
	if err != nil {
		t.Fatal(err)
	}
	return labels.Requirements{*r}
}

// Every attribute a SubjectAccessReview carries separates decisions: a request that
// differs from a remembered one in any of them is asked about again.
func TestCachedAuthorizerKeysOnEveryAttribute(t *testing.T) {
	t.Parallel()
	variants := map[string]func(*authorizer.AttributesRecord){
		"user":          func(a *authorizer.AttributesRecord) { a.User.(*user.DefaultInfo).Name = "wally" },
		"uid":           func(a *authorizer.AttributesRecord) { a.User.(*user.DefaultInfo).UID = "u2" },
		"no uid":        func(a *authorizer.AttributesRecord) { a.User.(*user.DefaultInfo).UID = "" },
		"another group": func(a *authorizer.AttributesRecord) { a.User.(*user.DefaultInfo).Groups = []string{"seals", "admins"} },
		"one group more": func(a *authorizer.AttributesRecord) {
			a.User.(*user.DefaultInfo).Groups = append(a.User.GetGroups(), "x")
		},
		"groups split differently": func(a *authorizer.AttributesRecord) {
			a.User.(*user.DefaultInfo).Groups = []string{"sealssystem:", "authenticated"}
		},
		"extra value":  func(a *authorizer.AttributesRecord) { a.User.(*user.DefaultInfo).Extra["scopes"] = []string{"a"} },
		"extra key":    func(a *authorizer.AttributesRecord) { a.User.(*user.DefaultInfo).Extra["other"] = []string{"b"} },
		"no user":      func(a *authorizer.AttributesRecord) { a.User = nil },
		"verb":         func(a *authorizer.AttributesRecord) { a.Verb = "watch" },
		"namespace":    func(a *authorizer.AttributesRecord) { a.Namespace = "kube-system" },
		"api group":    func(a *authorizer.AttributesRecord) { a.APIGroup = "batch" },
		"api version":  func(a *authorizer.AttributesRecord) { a.APIVersion = "v2" },
		"resource":     func(a *authorizer.AttributesRecord) { a.Resource = "replicasets" },
		"subresource":  func(a *authorizer.AttributesRecord) { a.Subresource = "scale" },
		"name":         func(a *authorizer.AttributesRecord) { a.Name = "web" },
		"non-resource": func(a *authorizer.AttributesRecord) { a.ResourceRequest = false },
		"field selector": func(a *authorizer.AttributesRecord) {
			a.FieldSelectorRequirements = fields.Requirements{{Operator: selection.Equals, Field: "metadata.name", Value: "web"}}
		},
		"label selector": func(a *authorizer.AttributesRecord) {
			a.LabelSelectorRequirements = mustLabels(t, "app", selection.In, "web")
		},
		"label selector values": func(a *authorizer.AttributesRecord) {
			a.LabelSelectorRequirements = mustLabels(t, "app", selection.In, "web", "db")
		},
		"field selector that did not parse": func(a *authorizer.AttributesRecord) { a.FieldSelectorParsingErr = errors.New("bad") },
	}
	base := baseAttributes()
	baseKey, ok := authzKey(base)
	if !ok {
		t.Fatal("the base attributes are not cacheable")
	}
	seen := map[string]string{baseKey: "base"}
	for name, change := range variants {
		a := baseAttributes()
		change(&a)
		key, ok := authzKey(a)
		if !ok {
			t.Errorf("%s: not cacheable", name)
			continue
		}
		if other, dup := seen[key]; dup {
			t.Errorf("%s has the same key as %s", name, other)
		}
		seen[key] = name
	}
	// For non-resource requests the path and verb matter, the resource fields do not
	// reach the review.
	nr := baseAttributes()
	nr.ResourceRequest = false
	k1, _ := authzKey(nr)
	nr.Path = "/healthz"
	if k2, _ := authzKey(nr); k1 == k2 {
		t.Error("non-resource requests for two paths share a key")
	}
	// The order of the extra map does not matter, that of groups (as in the review) does.
	a, b := baseAttributes(), baseAttributes()
	b.User.(*user.DefaultInfo).Extra = map[string][]string{"z": {"1"}, "scopes": {"a", "b"}}
	a.User.(*user.DefaultInfo).Extra = map[string][]string{"scopes": {"a", "b"}, "z": {"1"}}
	if ka, _ := authzKey(a); ka != func() string { k, _ := authzKey(b); return k }() {
		t.Error("the same extra in another map order gave another key")
	}
}

func TestCachedAuthorizerRemembersAnswersNotErrors(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	ctx := context.Background()

	allow := &countingAuthorizer{decision: authorizer.DecisionAllow}
	c := newCachedAuthorizer(allow, 10*time.Second, 5*time.Second, clock)
	for range 3 {
		d, reason, err := c.Authorize(ctx, baseAttributes())
		if d != authorizer.DecisionAllow || reason != "reason 1" || err != nil {
			t.Fatalf("Authorize = %v %q %v, want the first answer again", d, reason, err)
		}
	}
	if allow.calls != 1 {
		t.Errorf("the same request asked %d times within the TTL, want 1", allow.calls)
	}
	now = now.Add(10*time.Second + time.Millisecond)
	if _, reason, _ := c.Authorize(ctx, baseAttributes()); reason != "reason 2" || allow.calls != 2 {
		t.Errorf("after the allow TTL: reason %q, %d calls; want asked again", reason, allow.calls)
	}

	deny := &countingAuthorizer{decision: authorizer.DecisionNoOpinion}
	c = newCachedAuthorizer(deny, 10*time.Second, 5*time.Second, clock)
	if _, _, err := c.Authorize(ctx, baseAttributes()); err != nil {
		t.Fatal(err)
	}
	now = now.Add(4 * time.Second)
	if _, _, err := c.Authorize(ctx, baseAttributes()); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Second)
	if _, _, err := c.Authorize(ctx, baseAttributes()); err != nil {
		t.Fatal(err)
	}
	if deny.calls != 2 {
		t.Errorf("a refusal was asked %d times over 6 s with a 5 s TTL, want 2", deny.calls)
	}

	failing := &countingAuthorizer{decision: authorizer.DecisionNoOpinion, err: errors.New("API server unreachable")}
	c = newCachedAuthorizer(failing, 10*time.Second, 5*time.Second, clock)
	for range 3 {
		if _, _, err := c.Authorize(ctx, baseAttributes()); err == nil {
			t.Fatal("the delegate's error was lost")
		}
	}
	if failing.calls != 3 {
		t.Errorf("a failed review was remembered: %d calls for 3 requests", failing.calls)
	}

	// Huge request-controlled attributes are never remembered.
	huge := baseAttributes()
	huge.Name = strings.Repeat("n", maxCachedAttributes)
	allow = &countingAuthorizer{decision: authorizer.DecisionAllow}
	c = newCachedAuthorizer(allow, 10*time.Second, 5*time.Second, clock)
	if _, _, err := c.Authorize(ctx, huge); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Authorize(ctx, huge); err != nil {
		t.Fatal(err)
	}
	if allow.calls != 2 {
		t.Errorf("an oversized request was remembered: %d calls for 2 requests", allow.calls)
	}
}

func BenchmarkAuthzKey(b *testing.B) {
	a := baseAttributes()
	for b.Loop() {
		if _, ok := authzKey(a); !ok {
			b.Fatal("not cacheable")
		}
	}
}
