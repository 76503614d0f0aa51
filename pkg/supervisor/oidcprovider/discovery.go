// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// Discovery is the OpenID provider metadata (docs/wire-contract.md §2.2, §5).
type Discovery struct {
	Issuer                            string                `json:"issuer"`
	AuthorizationEndpoint             string                `json:"authorization_endpoint"`
	TokenEndpoint                     string                `json:"token_endpoint"`
	JWKSURI                           string                `json:"jwks_uri"`
	RevocationEndpoint                string                `json:"revocation_endpoint,omitempty"`
	DeviceAuthorizationEndpoint       string                `json:"device_authorization_endpoint,omitempty"`
	ResponseTypesSupported            []string              `json:"response_types_supported"`
	ResponseModesSupported            []string              `json:"response_modes_supported"`
	SubjectTypesSupported             []string              `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string              `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported []string              `json:"token_endpoint_auth_methods_supported"`
	ScopesSupported                   []string              `json:"scopes_supported"`
	ClaimsSupported                   []string              `json:"claims_supported"`
	CodeChallengeMethodsSupported     []string              `json:"code_challenge_methods_supported"`
	GrantTypesSupported               []string              `json:"grant_types_supported,omitempty"`
	SupervisorDiscovery               SupervisorDiscoveryV1 `json:"discovery.supervisor.pinniped.dev/v1alpha1"`
}

// SupervisorDiscoveryV1 is the Pinniped discovery member.
type SupervisorDiscoveryV1 struct {
	IdentityProvidersEndpoint string `json:"pinniped_identity_providers_endpoint"`
}

// IDPDiscovery is the IdP discovery document (docs/wire-contract.md §2.3).
type IDPDiscovery struct {
	IdentityProviders []IDPDiscoveryEntry `json:"pinniped_identity_providers"`
	SupportedTypes    []IDPType           `json:"pinniped_supported_identity_provider_types"`
}

// IDPDiscoveryEntry is one usable identity provider.
type IDPDiscoveryEntry struct {
	Name  string   `json:"name"`
	Type  string   `json:"type"`
	Flows []string `json:"flows"`
}

// IDPType is one supported identity provider type.
type IDPType struct {
	Type string `json:"type"`
}

// DiscoveryDocument returns the provider metadata.
func (p *Provider) DiscoveryDocument() Discovery {
	return Discovery{
		Issuer:                            p.cfg.Issuer,
		AuthorizationEndpoint:             p.endpoint(PathAuthorize),
		TokenEndpoint:                     p.endpoint(PathToken),
		JWKSURI:                           p.endpoint(PathJWKS),
		RevocationEndpoint:                p.endpoint(PathRevoke),
		DeviceAuthorizationEndpoint:       p.endpoint(PathDeviceAuthorization),
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query", "form_post"},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{"ES256"},
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic"},
		ScopesSupported:                   []string{ScopeOpenID, ScopeOfflineAccess, ScopeRequestAudience, ScopeUsername, ScopeGroups},
		ClaimsSupported:                   []string{"username", "groups", "additionalClaims"},
		CodeChallengeMethodsSupported:     []string{"S256"},
		GrantTypesSupported:               []string{GrantAuthorizationCode, GrantRefreshToken, GrantTokenExchange, GrantDeviceCode},
		SupervisorDiscovery:               SupervisorDiscoveryV1{IdentityProvidersEndpoint: p.endpoint(PathIDPs)},
	}
}

// IDPDiscoveryDocument lists the usable identity providers, sorted by name.
func (p *Provider) IDPDiscoveryDocument() IDPDiscovery {
	doc := IDPDiscovery{IdentityProviders: []IDPDiscoveryEntry{}, SupportedTypes: []IDPType{
		{Type: upstream.TypeActiveDirectory}, {Type: upstream.TypeGitHub}, {Type: upstream.TypeLDAP}, {Type: upstream.TypeOIDC}}}
	for _, idp := range p.cfg.IdPs {
		doc.IdentityProviders = append(doc.IdentityProviders, IDPDiscoveryEntry{
			Name: idp.DisplayName, Type: idp.Provider.Type(), Flows: slices.Clone(idp.Provider.Flows())})
	}
	slices.SortFunc(doc.IdentityProviders, func(a, b IDPDiscoveryEntry) int { return strings.Compare(a.Name, b.Name) })
	return doc
}

func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, p.DiscoveryDocument())
}

func (p *Provider) idpDiscovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, p.IDPDiscoveryDocument())
}

func (p *Provider) jwks(w http.ResponseWriter, _ *http.Request) {
	set := p.cfg.Keys()
	if set == nil {
		http.Error(w, "signing keys are not ready", http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, http.StatusOK, set.JWKS())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
