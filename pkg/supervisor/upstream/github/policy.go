// SPDX-License-Identifier: Apache-2.0

package github

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
)

// ErrNotInAllowedOrganizations is returned (wrapped) when a user belongs to none of
// the allowed organizations.
var ErrNotInAllowedOrganizations = errors.New("the GitHub user is not a member of any allowed organization")

// policy is the resolved organization policy.
type policy struct {
	// allowed holds the lower-cased allowed organization logins; nil means every
	// GitHub user is allowed and every team is kept.
	allowed []string
}

// policyOf resolves spec.allowAuthentication.organizations (docs/wire-contract.md §1.9).
func policyOf(o idpv1alpha1.GitHubOrganizationsSpec) (policy, error) {
	switch o.Policy {
	case idpv1alpha1.GitHubAllowedAuthOrganizationsPolicyAllGitHubUsers:
		if len(o.Allowed) > 0 {
			return policy{}, errors.New("spec.allowAuthentication.organizations.allowed must be empty when policy is AllGitHubUsers")
		}
		return policy{}, nil
	case "", idpv1alpha1.GitHubAllowedAuthOrganizationsPolicyOnlyUsersFromAllowedOrganizations:
		allowed := make([]string, 0, len(o.Allowed))
		for _, org := range o.Allowed {
			if org = strings.TrimSpace(org); org != "" && !slices.Contains(allowed, strings.ToLower(org)) {
				allowed = append(allowed, strings.ToLower(org))
			}
		}
		if len(allowed) == 0 {
			return policy{}, errors.New("spec.allowAuthentication.organizations.allowed must list at least one organization when policy is OnlyUsersFromAllowedOrganizations")
		}
		return policy{allowed: allowed}, nil
	default:
		return policy{}, fmt.Errorf("spec.allowAuthentication.organizations.policy %q is not OnlyUsersFromAllowedOrganizations or AllGitHubUsers", o.Policy)
	}
}

// restricts reports whether only members of allowed organizations may log in.
func (p policy) restricts() bool { return p.allowed != nil }

// allows reports whether org (a login, compared case-insensitively) is allowed.
func (p policy) allows(org string) bool {
	return !p.restricts() || slices.Contains(p.allowed, strings.ToLower(org))
}

// admit checks that a user of orgs may log in.
func (p policy) admit(orgs []string) error {
	if !p.restricts() || slices.ContainsFunc(orgs, p.allows) {
		return nil
	}
	return ErrNotInAllowedOrganizations
}

// usernameOf forms the username of a user (docs/wire-contract.md §1.9).
func usernameOf(attr idpv1alpha1.GitHubUsernameAttribute, u *user) string {
	id := strconv.FormatInt(u.ID, 10)
	switch attr {
	case idpv1alpha1.GitHubUsernameID:
		return id
	case idpv1alpha1.GitHubUsernameLogin:
		return u.Login
	default:
		return u.Login + ":" + id
	}
}

// groupsOf returns "<org>/<team>" for the teams of allowed organizations, sorted
// and without duplicates.
func groupsOf(attr idpv1alpha1.GitHubGroupNameAttribute, p policy, teams []team) []string {
	groups := []string{}
	for _, t := range teams {
		if t.Organization.Login == "" || !p.allows(t.Organization.Login) {
			continue
		}
		name := t.Slug
		if attr == idpv1alpha1.GitHubGroupNameName {
			name = t.Name
		}
		if name != "" {
			groups = append(groups, t.Organization.Login+"/"+name)
		}
	}
	slices.Sort(groups)
	return slices.Compact(groups)
}
