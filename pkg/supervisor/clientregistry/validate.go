// SPDX-License-Identifier: Apache-2.0

package clientregistry

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/crypto/bcrypt"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
)

// verdict is what an OIDCClient's spec and stored secrets say about it.
type verdict struct {
	conditions []metav1.Condition
	total      int32
	ready      bool
}

// evaluate checks spec against the rules of docs/wire-contract.md §1.10 and the stored
// hashes (or the error reading them, which must be ErrUnreadable).
func evaluate(spec *configv1alpha1.OIDCClientSpec, hashes []string, unreadable error) verdict {
	v := verdict{
		conditions: []metav1.Condition{grantTypesCondition(spec), scopesCondition(spec), secretsCondition(hashes, unreadable)},
		total:      int32(len(hashes)), //nolint:gosec // G115: at most five hashes are kept.
		ready:      true,
	}
	for _, c := range v.conditions {
		v.ready = v.ready && c.Status == metav1.ConditionTrue
	}
	return v
}

// rules collects the messages of one condition's failed requirements.
type rules []string

func (r *rules) require(ok bool, format string, args ...any) {
	if !ok {
		*r = append(*r, fmt.Sprintf(format, args...))
	}
}

func (r rules) condition(condType, validMessage string) metav1.Condition {
	if len(r) == 0 {
		return metav1.Condition{Type: condType, Status: metav1.ConditionTrue, Reason: configv1alpha1.ReasonSuccess, Message: validMessage}
	}
	return metav1.Condition{Type: condType, Status: metav1.ConditionFalse, Reason: configv1alpha1.ReasonMissingRequiredValue,
		Message: strings.Join(r, "; ")}
}

func grantTypesCondition(spec *configv1alpha1.OIDCClientSpec) metav1.Condition {
	grant, scope := has(spec.AllowedGrantTypes), has(spec.AllowedScopes)
	var r rules
	r.require(grant(configv1alpha1.GrantTypeAuthorizationCode),
		`"allowedGrantTypes" must always include %q`, configv1alpha1.GrantTypeAuthorizationCode)
	r.require(!scope(configv1alpha1.ScopeOfflineAccess) || grant(configv1alpha1.GrantTypeRefreshToken),
		`%q must be included in "allowedGrantTypes" when %q is included in "allowedScopes"`,
		configv1alpha1.GrantTypeRefreshToken, configv1alpha1.ScopeOfflineAccess)
	r.require(!scope(configv1alpha1.ScopeRequestAudience) || grant(configv1alpha1.GrantTypeTokenExchange),
		`%q must be included in "allowedGrantTypes" when %q is included in "allowedScopes"`,
		configv1alpha1.GrantTypeTokenExchange, configv1alpha1.ScopeRequestAudience)
	return r.condition(configv1alpha1.ConditionAllowedGrantTypesValid, `"allowedGrantTypes" is valid`)
}

func scopesCondition(spec *configv1alpha1.OIDCClientSpec) metav1.Condition {
	grant, scope := has(spec.AllowedGrantTypes), has(spec.AllowedScopes)
	var r rules
	r.require(scope(configv1alpha1.ScopeOpenID), `%q must always be included in "allowedScopes"`, configv1alpha1.ScopeOpenID)
	r.require(!grant(configv1alpha1.GrantTypeRefreshToken) || scope(configv1alpha1.ScopeOfflineAccess),
		`%q must be included in "allowedScopes" when %q is included in "allowedGrantTypes"`,
		configv1alpha1.ScopeOfflineAccess, configv1alpha1.GrantTypeRefreshToken)
	r.require(!grant(configv1alpha1.GrantTypeTokenExchange) || scope(configv1alpha1.ScopeRequestAudience),
		`%q must be included in "allowedScopes" when %q is included in "allowedGrantTypes"`,
		configv1alpha1.ScopeRequestAudience, configv1alpha1.GrantTypeTokenExchange)
	// A cluster token without username and groups identifies nobody.
	for _, needed := range []configv1alpha1.Scope{configv1alpha1.ScopeUsername, configv1alpha1.ScopeGroups} {
		r.require(!scope(configv1alpha1.ScopeRequestAudience) || scope(needed),
			`%q must be included in "allowedScopes" when %q is included in "allowedScopes"`, needed, configv1alpha1.ScopeRequestAudience)
	}
	return r.condition(configv1alpha1.ConditionAllowedScopesValid, `"allowedScopes" is valid`)
}

func secretsCondition(hashes []string, unreadable error) metav1.Condition {
	c := metav1.Condition{Type: configv1alpha1.ConditionClientSecretExists, Status: metav1.ConditionFalse}
	switch {
	case errors.Is(unreadable, ErrUnreadable):
		c.Reason, c.Message = configv1alpha1.ReasonInvalidClientSecretFound, unreadable.Error()
	case len(hashes) == 0:
		c.Reason, c.Message = configv1alpha1.ReasonNoClientSecretFound, "no client secret found"
	default:
		if i := invalidHash(hashes); i >= 0 {
			c.Reason = configv1alpha1.ReasonInvalidClientSecretFound
			c.Message = fmt.Sprintf("client secret %d of %d (newest first) is not a bcrypt hash of cost %d or more", i+1, len(hashes), BcryptCost)
			return c
		}
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, configv1alpha1.ReasonSuccess, fmt.Sprintf("%d client secret(s) found", len(hashes))
	}
	return c
}

// invalidHash returns the index of the first hash that is not bcrypt of cost
// BcryptCost or more, or -1.
func invalidHash(hashes []string) int {
	for i, h := range hashes {
		if cost, err := bcrypt.Cost([]byte(h)); err != nil || cost < BcryptCost {
			return i
		}
	}
	return -1
}

func has[T ~string](values []T) func(T) bool {
	return func(v T) bool { return slices.Contains(values, v) }
}
