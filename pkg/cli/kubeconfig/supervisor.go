// SPDX-License-Identifier: Apache-2.0

package kubeconfig

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/selkie-dev/selkie/pkg/cli/internal/oidcclient"
)

// discoveryTimeout bounds each request to the supervisor.
const discoveryTimeout = 30 * time.Second

// discoverIdentityProvider checks the issuer answers OIDC discovery (with the CA bundle
// the kubeconfig will carry), drops the scopes it does not support, and, when it
// advertises IdP discovery, picks the identity provider and its flow
// (docs/wire-contract.md §2.3, §3.1).
func (g *generator) discoverIdentityProvider(ctx context.Context) error {
	o := &g.f.oidc
	if o.issuer == "" {
		return errNoIssuer
	}
	if !strings.HasPrefix(o.issuer, "https://") {
		return fmt.Errorf("the OIDC issuer %q must be an https URL", o.issuer)
	}
	httpClient, err := discoveryClient(o.caBundleData)
	if err != nil {
		return err
	}
	client, err := oidcclient.Discover(ctx, o.issuer, o.clientID, httpClient, g.log)
	if err != nil {
		return fmt.Errorf("could not reach the supervisor for OIDC discovery (check --oidc-issuer, --oidc-ca-bundle and that the supervisor is up): %w", err)
	}
	o.scopes = g.supportedScopes(o.scopes, client.Meta.ScopesSupported)
	if o.idpName != "" && o.idpType != "" && o.idpFlow != "" {
		return nil // nothing left to discover; the login command checks them at login time
	}
	if client.Meta.Supervisor == nil || client.Meta.Supervisor.IdentityProvidersEndpoint == "" {
		g.log.Info("the issuer does not advertise identity provider discovery; using the upstream flags as given", "issuer", o.issuer)
		return nil
	}
	idps, err := client.IdentityProviders(ctx)
	if err != nil {
		return fmt.Errorf("could not discover the supervisor's identity providers: %w", err)
	}
	if len(idps) == 0 {
		// Older supervisors with one OIDC identity provider list none; on a current one the
		// FederationDomain has no identity provider yet and logins will fail until it does.
		g.log.Warn("the supervisor lists no identity providers for this issuer; the kubeconfig names none and uses the upstream flags as given "+
			"(with a current supervisor, configure an identity provider on the FederationDomain)", "issuer", o.issuer)
		return nil
	}
	idp, err := selectIdentityProvider(idps, o.idpName, o.idpType)
	if err != nil {
		return err
	}
	flow, err := selectFlow(idp, o.idpFlow)
	if err != nil {
		return err
	}
	o.idpName, o.idpType, o.idpFlow = idp.Name, idp.Type, flow
	g.log.Info("discovered the supervisor's identity provider", "name", idp.Name, "type", idp.Type, "flow", flow)
	return nil
}

// supportedScopes drops from scopes the username and groups scopes when the issuer's
// scopes_supported does not list them (supervisors from before those scopes existed
// refuse them); an issuer that lists no scopes at all is taken to support them.
func (g *generator) supportedScopes(scopes, supported []string) []string {
	if len(supported) == 0 {
		return scopes
	}
	return slices.DeleteFunc(slices.Clone(scopes), func(scope string) bool {
		if (scope != "username" && scope != "groups") || slices.Contains(supported, scope) {
			return false
		}
		g.log.Info("the issuer does not support this scope (an older supervisor); it is left out of --scopes", "scope", scope)
		return true
	})
}

// selectIdentityProvider returns the IdP matching the given name and type (either may
// be empty), which must be exactly one.
func selectIdentityProvider(idps []oidcclient.IdentityProvider, name, typ string) (*oidcclient.IdentityProvider, error) {
	var matches []oidcclient.IdentityProvider
	for _, idp := range idps {
		if (name == "" || idp.Name == name) && (typ == "" || idp.Type == typ) {
			matches = append(matches, idp)
		}
	}
	switch {
	case len(matches) == 1:
		return &matches[0], nil
	case len(matches) == 0:
		return nil, fmt.Errorf("the supervisor has no identity provider matching --upstream-identity-provider-name=%q --upstream-identity-provider-type=%q; it has: %s",
			name, typ, describeIDPs(idps))
	default:
		return nil, fmt.Errorf("the supervisor has several identity providers (%s): choose one with --upstream-identity-provider-name and --upstream-identity-provider-type",
			describeIDPs(matches))
	}
}

// selectFlow validates the given flow or takes the IdP's first (its preference).
func selectFlow(idp *oidcclient.IdentityProvider, flow string) (string, error) {
	switch {
	case len(idp.Flows) == 0: // an older supervisor that lists no flows
		return flow, nil
	case flow == "":
		return idp.Flows[0], nil
	case slices.Contains(idp.Flows, flow):
		return flow, nil
	default:
		return "", fmt.Errorf("identity provider %q (%s) does not offer --upstream-identity-provider-flow=%q; it offers: %s",
			idp.Name, idp.Type, flow, strings.Join(idp.Flows, ", "))
	}
}

func describeIDPs(idps []oidcclient.IdentityProvider) string {
	parts := make([]string, 0, len(idps))
	for _, idp := range idps {
		parts = append(parts, fmt.Sprintf("%q (type %s, flows %s)", idp.Name, idp.Type, strings.Join(idp.Flows, ",")))
	}
	return strings.Join(parts, ", ")
}

// discoveryClient trusts caPEM, or the system roots when it is empty.
func discoveryClient(caPEM []byte) (*http.Client, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("the OIDC CA bundle holds no PEM certificate")
		}
		tlsConfig.RootCAs = pool
	}
	return &http.Client{Timeout: discoveryTimeout, Transport: &http.Transport{TLSClientConfig: tlsConfig, Proxy: http.ProxyFromEnvironment}}, nil
}
