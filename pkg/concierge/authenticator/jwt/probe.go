// SPDX-License-Identifier: Apache-2.0

package jwt

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/internal/engine"
)

const (
	wellKnownPath = "/.well-known/openid-configuration"
	// httpTimeout bounds each request to the issuer, as the Kubernetes OIDC authenticator does.
	httpTimeout = 30 * time.Second
	// maxDocumentBytes bounds the discovery document and the JWKS.
	maxDocumentBytes = 1 << 20
)

func fail(reason, format string, args ...any) (string, *engine.Failure) {
	return "", &engine.Failure{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// failRemote reports a failure that depends on the issuer, which may recover.
func failRemote(reason, format string, args ...any) (string, *engine.Failure) {
	return "", &engine.Failure{Reason: reason, Message: fmt.Sprintf(format, args...), Retry: true}
}

// checkIssuer checks that spec.issuer is an https URL usable as an issuer.
func (p *probe) checkIssuer(context.Context) (string, *engine.Failure) {
	issuer := p.Spec.Issuer
	u, err := url.Parse(issuer)
	switch {
	case err != nil:
		return fail(authenticationv1alpha1.ReasonInvalidIssuerURL, "spec.issuer is not a valid URL: %v", err)
	case u.Scheme != "https":
		return fail(authenticationv1alpha1.ReasonInvalidIssuerURLScheme,
			"spec.issuer %q has scheme %q; the scheme must be https", issuer, u.Scheme)
	case u.Host == "":
		return fail(authenticationv1alpha1.ReasonInvalidIssuerURL, "spec.issuer %q has no host", issuer)
	case strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), wellKnownPath):
		return fail(authenticationv1alpha1.ReasonInvalidIssuerURLContainsWellKnownEndpoint,
			"spec.issuer %q must not include the path %s", issuer, wellKnownPath)
	case u.RawQuery != "" || u.ForceQuery:
		return fail(authenticationv1alpha1.ReasonInvalidIssuerURLContainsQueryParams,
			"spec.issuer %q must not include a query", issuer)
	case strings.Contains(issuer, "#"):
		return fail(authenticationv1alpha1.ReasonInvalidIssuerURLContainsFragment,
			"spec.issuer %q must not include a fragment", issuer)
	}
	return "", nil
}

// discover fetches the issuer's discovery document and checks that it names
// the same issuer.
func (p *probe) discover(ctx context.Context) (string, *engine.Failure) {
	p.client = p.Bundle.HTTPClient(httpTimeout)
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	discoveryURL := strings.TrimSuffix(p.Spec.Issuer, "/") + wellKnownPath
	if err := getJSON(ctx, p.client, discoveryURL, &doc); err != nil {
		return failRemote(authenticationv1alpha1.ReasonInvalidDiscoveryProbe,
			"could not perform OIDC discovery on spec.issuer: %v", err)
	}
	if doc.Issuer != p.Spec.Issuer {
		return failRemote(authenticationv1alpha1.ReasonInvalidDiscoveryProbe,
			"could not perform OIDC discovery on spec.issuer: the discovery document names issuer %q, want %q",
			doc.Issuer, p.Spec.Issuer)
	}
	p.jwksURL = doc.JWKSURI
	return "", nil
}

// checkJWKSURL checks that the discovered jwks_uri is an https URL.
func (p *probe) checkJWKSURL(context.Context) (string, *engine.Failure) {
	if p.jwksURL == "" {
		return failRemote(authenticationv1alpha1.ReasonInvalidProviderJWKSURL,
			"the discovery document has no jwks_uri")
	}
	u, err := url.Parse(p.jwksURL)
	if err != nil {
		return failRemote(authenticationv1alpha1.ReasonInvalidProviderJWKSURL, "could not parse jwks_uri: %v", err)
	}
	if u.Scheme != "https" {
		return failRemote(authenticationv1alpha1.ReasonInvalidProviderJWKSURLScheme,
			"jwks_uri %q has scheme %q; the scheme must be https", p.jwksURL, u.Scheme)
	}
	return "", nil
}

// fetchJWKS fetches the JWKS once and checks that it parses as a key set.
func (p *probe) fetchJWKS(ctx context.Context) (string, *engine.Failure) {
	var keys jose.JSONWebKeySet
	if err := getJSON(ctx, p.client, p.jwksURL, &keys); err != nil {
		return failRemote(authenticationv1alpha1.ReasonInvalidCouldNotFetchJWKS, "could not fetch the JWKS: %v", err)
	}
	// The message stays the Check's Success so that it does not change when a
	// later reconciliation passes this check without fetching.
	return "", nil
}

// getJSON GETs u and decodes its JSON body into v.
func getJSON(ctx context.Context, c *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err // a *url.Error, which already names the method and URL
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes))
	if err != nil {
		return fmt.Errorf("read response from %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: unexpected status %s", u, resp.Status)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("decode response from %s: %w", u, err)
	}
	return nil
}
