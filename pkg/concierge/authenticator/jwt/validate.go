// SPDX-License-Identifier: Apache-2.0

package jwt

import (
	"context"
	"net/http"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator"
	"github.com/selkie-dev/selkie/pkg/internal/engine"
)

// Default claim names, matching the tokens a Selkie supervisor issues.
const (
	defaultUsernameClaim = "username"
	defaultGroupsClaim   = "groups"
)

// probe carries what each check learns to the checks after it.
type probe struct {
	authenticator.Probe[authenticationv1alpha1.JWTAuthenticatorSpec]
	client  *http.Client
	jwksURL string
}

// validate runs every check of obj. The checks that reach the issuer run only
// when the configuration (spec and CA bundle) differs from the cached
// authenticator's: an unchanged, already validated configuration is not probed
// again, so that a flaky network does not evict a working authenticator.
func (r *Reconciler) validate(ctx context.Context, obj *authenticationv1alpha1.JWTAuthenticator, current *engine.Current[authenticator.Token]) (*engine.Validation[authenticator.Token], error) {
	p := &probe{Probe: authenticator.Probe[authenticationv1alpha1.JWTAuthenticatorSpec]{Spec: withDefaults(obj.Spec)}}
	first := engine.Check{
		Type:        authenticationv1alpha1.ConditionIssuerURLValid,
		Success:     "spec.issuer is a valid issuer URL",
		Independent: true,
		Run:         p.checkIssuer,
	}
	rules := engine.Check{
		Type:        authenticationv1alpha1.ConditionClaimRulesValid,
		Success:     "claim rules and mappings are valid",
		Independent: true,
		Run:         p.checkClaimRules,
	}
	return authenticator.ValidateProbe(ctx, r.ControllerConfig, Kind, obj.Name, current, &p.Probe, []engine.Check{first, rules}, obj.Spec.TLS, p.remoteChecks()), nil
}

// remoteChecks are the checks that contact the issuer, in order.
func (p *probe) remoteChecks() []engine.Check {
	return []engine.Check{
		{Type: authenticationv1alpha1.ConditionDiscoveryURLValid, Success: "discovery performed successfully", Run: p.discover},
		{Type: authenticationv1alpha1.ConditionJWKSURLValid, Success: "jwks_uri is a valid URL", Run: p.checkJWKSURL},
		{Type: authenticationv1alpha1.ConditionJWKSFetchValid, Success: "successfully fetched the JWKS", Run: p.fetchJWKS},
		{Type: authenticationv1alpha1.ConditionAuthenticatorValid, Success: "authenticator initialized", Run: p.build},
	}
}

// withDefaults fills in the default claim names.
func withDefaults(spec authenticationv1alpha1.JWTAuthenticatorSpec) authenticationv1alpha1.JWTAuthenticatorSpec {
	out := *spec.DeepCopy()
	if out.Claims.Username == "" {
		out.Claims.Username = defaultUsernameClaim
	}
	if out.Claims.Groups == "" {
		out.Claims.Groups = defaultGroupsClaim
	}
	return out
}
