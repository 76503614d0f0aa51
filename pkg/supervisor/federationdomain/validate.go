// SPDX-License-Identifier: Apache-2.0

package federationdomain

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/transform"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// validIdPKinds are the kinds an objectRef may name.
//
//nolint:gochecknoglobals // a read-only list of the kinds a FederationDomain may name.
var validIdPKinds = []string{upstream.KindOIDC, upstream.KindLDAP, upstream.KindActiveDirectory, upstream.KindGitHub}

// idpRef is one identity provider a valid domain uses.
type idpRef struct {
	displayName string
	key         upstream.Key
	spec        *configv1alpha1.FederationDomainIdentityProvider // nil in legacy mode
	// pipeline is its compiled transforms (nil in legacy mode or when they do not compile).
	pipeline *transform.Pipeline
	// disabled: its transforms do not compile or an example failed, so it is not
	// offered in this domain.
	disabled bool
}

// verdict is the outcome of validating one FederationDomain.
type verdict struct {
	conditions []metav1.Condition
	// ready is the Ready condition: every other condition is True.
	ready bool
	// serve says the domain is served: it is ready, or only examples failed (which
	// disables their identity providers, not the domain).
	serve bool
	// issuerOK says keys may be made and the issuer served (it is valid and unique).
	issuerOK bool
	legacy   bool
	idps     []idpRef
}

// validateAll checks every FederationDomain of the namespace against the others and
// against the identity provider resources that exist (existing, any kind), and compiles
// their transforms.
func validateAll(ctx context.Context, fds []configv1alpha1.FederationDomain, existing []upstream.Key, idpGroup string) map[string]*verdict {
	issuers := map[string]int{}
	hostSecrets := map[string]map[string]bool{}
	for _, fd := range fds {
		if u, err := parseIssuer(fd.Spec.Issuer); err == nil {
			issuers[issuerKey(u)]++
			host := strings.ToLower(u.Hostname())
			if hostSecrets[host] == nil {
				hostSecrets[host] = map[string]bool{}
			}
			secret := ""
			if fd.Spec.TLS != nil {
				secret = fd.Spec.TLS.SecretName
			}
			hostSecrets[host][secret] = true
		}
	}
	out := map[string]*verdict{}
	for i := range fds {
		fd := &fds[i]
		v := &verdict{}
		var conds []metav1.Condition
		u, err := parseIssuer(fd.Spec.Issuer)
		conds = append(conds, cond(configv1alpha1.ConditionIssuerURLValid, err == nil, "InvalidIssuerURL", errMessage(err, ""), "spec.issuer is a valid URL"))
		unique, oneSecret := true, true
		if err == nil {
			unique = issuers[issuerKey(u)] == 1
			oneSecret = net.ParseIP(u.Hostname()) != nil || len(hostSecrets[strings.ToLower(u.Hostname())]) == 1
		}
		conds = append(conds,
			condOr(err == nil, configv1alpha1.ConditionIssuerIsUnique, unique, configv1alpha1.ReasonDuplicateIssuer,
				"multiple FederationDomains have the same spec.issuer "+fd.Spec.Issuer, "spec.issuer is unique among all FederationDomains"),
			condOr(err == nil, configv1alpha1.ConditionOneTLSSecretPerIssuerHostname, oneSecret, configv1alpha1.ReasonDifferentSecretRefsFound,
				"all FederationDomains using the issuer hostname must use the same spec.tls.secretName", "all FederationDomains using this hostname use the same TLS Secret"))
		v.issuerOK = err == nil && unique
		idpConds, idps, legacy := validateIdPs(fd, existing, idpGroup)
		conds = append(conds, idpConds...)
		conds = append(conds, validateTransforms(ctx, idps)...)
		v.idps, v.legacy = idps, legacy
		v.ready = v.issuerOK && oneSecret && allTrue(conds)
		v.serve = v.issuerOK && oneSecret && allTrue(slices.DeleteFunc(slices.Clone(conds), func(c metav1.Condition) bool {
			return c.Type == configv1alpha1.ConditionTransformsExamplesPassed
		}))
		conds = append(conds, cond(configv1alpha1.ConditionReady, v.ready, configv1alpha1.ReasonNotReady,
			"the FederationDomain is not ready: see other conditions for details", "the FederationDomain is ready"))
		v.conditions = conds
		out[string(fd.UID)] = v
	}
	return out
}

// parseIssuer applies spec.issuer's rules: https, a host, no userinfo, query, fragment
// or trailing slash.
func parseIssuer(issuer string) (*url.URL, error) {
	u, err := url.Parse(issuer)
	switch {
	case err != nil:
		return nil, fmt.Errorf("spec.issuer is not a URL: %w", err)
	case u.Scheme != "https":
		return nil, fmt.Errorf("spec.issuer must use https")
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("spec.issuer must have a host")
	case u.User != nil, u.RawQuery != "", u.Fragment != "", strings.HasSuffix(issuer, "?"), strings.HasSuffix(issuer, "#"):
		return nil, fmt.Errorf("spec.issuer must not have userinfo, a query or a fragment")
	case strings.HasSuffix(u.Path, "/"):
		return nil, fmt.Errorf("spec.issuer must not end with a slash")
	}
	return u, nil
}

// issuerKey compares issuers with a case-insensitive scheme and host.
func issuerKey(u *url.URL) string {
	return strings.ToLower(u.Scheme+"://"+u.Host) + u.EscapedPath()
}

// validateIdPs checks spec.identityProviders, or legacy mode when it is empty.
func validateIdPs(fd *configv1alpha1.FederationDomain, existing []upstream.Key, idpGroup string) ([]metav1.Condition, []idpRef, bool) {
	const (
		found    = configv1alpha1.ConditionIdentityProvidersFound
		names    = configv1alpha1.ConditionIdentityProvidersDisplayNamesUnique
		group    = configv1alpha1.ConditionIdentityProvidersObjectRefAPIGroupSuffixValid
		kind     = configv1alpha1.ConditionIdentityProvidersObjectRefKindValid
		okGroups = "the API groups of spec.identityProviders[].objectRef are valid"
		okKinds  = "the kinds of spec.identityProviders[].objectRef are valid"
		okNames  = "the display names of spec.identityProviders[] are unique"
	)
	if len(fd.Spec.IdentityProviders) == 0 {
		conds := []metav1.Condition{cond(group, true, "", "", okGroups), cond(kind, true, "", "", okKinds), cond(names, true, "", "", okNames)}
		switch len(existing) {
		case 1:
			c := cond(found, true, "", "", fmt.Sprintf("no resources were specified by .spec.identityProviders[].objectRef and %q was found", existing[0].Name))
			c.Reason = configv1alpha1.ReasonLegacyConfigurationSuccess
			return append(conds, c), []idpRef{{displayName: existing[0].Name, key: existing[0]}}, true
		case 0:
			return append(conds, cond(found, false, configv1alpha1.ReasonLegacyConfigurationIdentityProviderNotFound,
				"no resources were specified by .spec.identityProviders[].objectRef and no identity provider resources have been found: please create one", "")), nil, true
		default:
			return append(conds, cond(found, false, configv1alpha1.ReasonIdentityProviderNotSpecified,
				"no resources were specified by .spec.identityProviders[].objectRef and multiple identity provider resources have been found: please update .spec.identityProviders to specify which identity providers this FederationDomain should use", "")), nil, true
		}
	}
	var badGroups, badKinds, dupNames, missing []string
	seen := map[string]bool{}
	var refs []idpRef
	for i := range fd.Spec.IdentityProviders {
		spec := &fd.Spec.IdentityProviders[i]
		ref := spec.ObjectRef
		apiGroup := ""
		if ref.APIGroup != nil {
			apiGroup = *ref.APIGroup
		}
		switch {
		case apiGroup != idpGroup:
			badGroups = append(badGroups, fmt.Sprintf("%q", apiGroup))
		case !slices.Contains(validIdPKinds, ref.Kind):
			badKinds = append(badKinds, fmt.Sprintf("%q", ref.Kind))
		case !slices.Contains(existing, upstream.Key{Kind: ref.Kind, Name: ref.Name}):
			missing = append(missing, fmt.Sprintf("%s/%s", ref.Kind, ref.Name))
		}
		if seen[spec.DisplayName] {
			dupNames = append(dupNames, fmt.Sprintf("%q", spec.DisplayName))
		}
		seen[spec.DisplayName] = true
		refs = append(refs, idpRef{displayName: spec.DisplayName, key: upstream.Key{Kind: ref.Kind, Name: ref.Name}, spec: spec})
	}
	conds := []metav1.Condition{
		cond(group, len(badGroups) == 0, configv1alpha1.ReasonAPIGroupUnrecognized,
			fmt.Sprintf("some API groups specified by .spec.identityProviders[].objectRef.apiGroup are not recognized (should be %q): %s", idpGroup, strings.Join(badGroups, ", ")), okGroups),
		cond(kind, len(badKinds) == 0, configv1alpha1.ReasonKindUnrecognized,
			fmt.Sprintf("some kinds specified by .spec.identityProviders[].objectRef.kind are not recognized (should be one of %s): %s", strings.Join(validIdPKinds, ", "), strings.Join(badKinds, ", ")), okKinds),
		cond(names, len(dupNames) == 0, configv1alpha1.ReasonDuplicateDisplayNames,
			"the names specified by .spec.identityProviders[].displayName contain duplicates: "+strings.Join(dupNames, ", "), okNames),
		cond(found, len(missing) == 0, configv1alpha1.ReasonIdentityProvidersObjectRefsNotFound,
			"cannot find resource specified by .spec.identityProviders[].objectRef: "+strings.Join(missing, ", "),
			"the resources specified by .spec.identityProviders[].objectRef were found"),
	}
	return conds, refs, false
}

// maxMessage is below the API's limit on a condition message (32768), so that a long
// list of errors cannot make the status update fail.
const maxMessage = 32000

func cond(typ string, ok bool, reason, badMessage, okMessage string) metav1.Condition {
	if ok {
		return metav1.Condition{Type: typ, Status: metav1.ConditionTrue, Reason: configv1alpha1.ReasonSuccess, Message: okMessage}
	}
	if len(badMessage) > maxMessage {
		badMessage = strings.ToValidUTF8(badMessage[:maxMessage], "") + "\n… (truncated)"
	}
	return metav1.Condition{Type: typ, Status: metav1.ConditionFalse, Reason: reason, Message: badMessage}
}

// condOr is cond, or UnableToValidate when a prerequisite failed.
func condOr(prereq bool, typ string, ok bool, reason, badMessage, okMessage string) metav1.Condition {
	if !prereq {
		return metav1.Condition{Type: typ, Status: metav1.ConditionUnknown, Reason: configv1alpha1.ReasonUnableToValidate, Message: configv1alpha1.MessageUnableToValidate}
	}
	return cond(typ, ok, reason, badMessage, okMessage)
}

func errMessage(err error, ok string) string {
	if err != nil {
		return err.Error()
	}
	return ok
}

func allTrue(conds []metav1.Condition) bool {
	for _, c := range conds {
		if c.Status != metav1.ConditionTrue {
			return false
		}
	}
	return true
}
