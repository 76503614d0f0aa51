// SPDX-License-Identifier: Apache-2.0

package oidcclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/selkie-dev/selkie/pkg/cli/httpretry"
)

// Metadata is what the CLI reads from the issuer's discovery document.
type Metadata struct {
	Issuer                 string   `json:"issuer"`
	AuthorizationEndpoint  string   `json:"authorization_endpoint"`
	TokenEndpoint          string   `json:"token_endpoint"`
	RevocationEndpoint     string   `json:"revocation_endpoint"`
	ResponseModesSupported []string `json:"response_modes_supported"`
	ScopesSupported        []string `json:"scopes_supported"`
	Supervisor             *struct {
		IdentityProvidersEndpoint string `json:"pinniped_identity_providers_endpoint"`
	} `json:"discovery.supervisor.pinniped.dev/v1alpha1"`
	// DeviceAuthorizationEndpoint is a Selkie extension (RFC 8628); other issuers have none.
	DeviceAuthorizationEndpoint string `json:"device_authorization_endpoint"`
}

// Client talks to one issuer as one OAuth client.
type Client struct {
	ClientID string
	HTTP     *http.Client
	Meta     Metadata
	Clock    func() time.Time
	Log      *slog.Logger
	// Sleep waits between retries of a token request (see postToken); nil waits on a
	// timer.
	Sleep func(ctx context.Context, d time.Duration) error

	provider *oidc.Provider
}

// Discover reads the issuer's metadata. The issuer and its authorization and token
// endpoints must be https: the CLI sends passwords and tokens there.
func Discover(ctx context.Context, issuer, clientID string, httpClient *http.Client, log *slog.Logger) (*Client, error) {
	if !strings.HasPrefix(issuer, "https://") {
		return nil, fmt.Errorf("issuer %q must be an https URL", issuer)
	}
	ctx = oidc.ClientContext(ctx, httpClient)
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, fmt.Errorf("could not perform OIDC discovery for %q: %w", issuer, err)
	}
	var meta Metadata
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("could not read the discovery document of %q: %w", issuer, err)
	}
	for name, u := range map[string]string{"authorization_endpoint": meta.AuthorizationEndpoint, "token_endpoint": meta.TokenEndpoint} {
		if !strings.HasPrefix(u, "https://") {
			return nil, fmt.Errorf("discovered %s %q must be an https URL", name, u)
		}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{ClientID: clientID, HTTP: httpClient, Meta: meta, Clock: time.Now, Log: log, provider: provider}, nil
}

// IdentityProvider is one entry of IdP discovery.
type IdentityProvider struct {
	Name  string   `json:"name"`
	Type  string   `json:"type"`
	Flows []string `json:"flows"`
}

// IdentityProviders lists the issuer's identity providers; nil without IdP discovery.
func (c *Client) IdentityProviders(ctx context.Context) ([]IdentityProvider, error) {
	if c.Meta.Supervisor == nil || c.Meta.Supervisor.IdentityProvidersEndpoint == "" {
		return nil, nil
	}
	endpoint := c.Meta.Supervisor.IdentityProvidersEndpoint
	if !strings.HasPrefix(endpoint, c.Meta.Issuer) {
		return nil, fmt.Errorf("the identity providers endpoint %q is not below the issuer", endpoint)
	}
	var doc struct {
		IdentityProviders []IdentityProvider `json:"pinniped_identity_providers"`
	}
	if err := c.getJSON(ctx, endpoint, &doc); err != nil {
		return nil, fmt.Errorf("could not list the identity providers of %q: %w", c.Meta.Issuer, err)
	}
	return doc.IdentityProviders, nil
}

// FormPostSupported reports whether the issuer offers response_mode=form_post.
func (c *Client) FormPostSupported() bool {
	return slices.Contains(c.Meta.ResponseModesSupported, "form_post")
}

func (c *Client) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

// Tokens are what a login or refresh yields.
type Tokens struct {
	AccessToken  string
	AccessExpiry time.Time
	RefreshToken string
	IDToken      string
	IDExpiry     time.Time
	IDClaims     map[string]any
}

// tokenResponse is the token endpoint's JSON.
type tokenResponse struct {
	AccessToken     string `json:"access_token"`
	ExpiresIn       int64  `json:"expires_in"`
	IDToken         string `json:"id_token"`
	RefreshToken    string `json:"refresh_token"`
	TokenType       string `json:"token_type"`
	IssuedTokenType string `json:"issued_token_type"`
	Error           string `json:"error"`
	Description     string `json:"error_description"`
}

// ErrTokenEndpoint is a refusal by the token endpoint: it answered the request with an
// OAuth error (status 400, 401 or 403), so the grant (a refresh token, a code) is not
// usable any more. Every other error of a token request (no connection, 5xx even after
// retries, an answer that is not JSON) means the token endpoint could not be asked, and
// the grant may still be valid.
var ErrTokenEndpoint = errors.New("the token endpoint refused the request")

// TokenError is a refusal by the token endpoint with its OAuth error code; it matches
// ErrTokenEndpoint with errors.Is. Refresh, Exchange and the logins return it for a
// refusal and never for a failure to reach the issuer.
type TokenError struct {
	Code, Description, AuditID string
}

func (e *TokenError) Error() string {
	return fmt.Sprintf("%v: %s: %s (Audit-ID %s)", ErrTokenEndpoint, e.Code, e.Description, e.AuditID)
}

// Is makes errors.Is(err, ErrTokenEndpoint) true.
func (e *TokenError) Is(target error) bool { return target == ErrTokenEndpoint }

// postToken sends a form to the token endpoint as the public client. It retries when
// the connection could not be opened or the answer is 502, 503, 504 or 429, and never
// once the endpoint may have processed the request (httpretry): refresh tokens are
// single-use.
func (c *Client) postToken(ctx context.Context, form url.Values) (*tokenResponse, error) {
	form.Set("client_id", c.ClientID)
	body := form.Encode()
	resp, err := httpretry.Do(ctx, c.HTTP, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Meta.TokenEndpoint, strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req, nil
	}, httpretry.Options{Log: c.Log, Sleep: c.Sleep})
	if err != nil {
		return nil, fmt.Errorf("token request: %w", err)
	}
	defer resp.Body.Close()
	for _, w := range resp.Header.Values("Warning") {
		c.Log.Warn("warning from the supervisor", "warning", w)
	}
	var tr tokenResponse
	decodeErr := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tr)
	switch {
	case resp.StatusCode == http.StatusOK && decodeErr != nil:
		return nil, fmt.Errorf("token response (%s): %w", resp.Status, decodeErr)
	case resp.StatusCode == http.StatusOK:
		return &tr, nil
	case decodeErr == nil && tr.Error != "" && refusalStatus(resp.StatusCode):
		return nil, &TokenError{Code: tr.Error, Description: tr.Description, AuditID: resp.Header.Get("Audit-ID")}
	}
	msg := resp.Status
	if decodeErr == nil && tr.Error != "" {
		msg += ": " + tr.Error + ": " + tr.Description
	}
	if id := resp.Header.Get("Audit-ID"); id != "" {
		msg += " (Audit-ID " + id + ")"
	}
	return nil, fmt.Errorf("the token endpoint failed: %s", msg)
}

// refusalStatus says whether an OAuth error with this status is a refusal (RFC 6749
// §5.2: 400, or 401 for client authentication; 403 for access_denied) rather than a
// server failure (server_error with 500, temporarily_unavailable with 503).
func refusalStatus(status int) bool {
	return status == http.StatusBadRequest || status == http.StatusUnauthorized || status == http.StatusForbidden
}

// verifyTokens checks the ID token of a code or refresh response and builds Tokens.
func (c *Client) verifyTokens(ctx context.Context, tr *tokenResponse, nonce string) (*Tokens, error) {
	if tr.IDToken == "" {
		return nil, errors.New("the token response has no ID token")
	}
	idToken, claims, err := c.verifyIDToken(ctx, tr.IDToken, c.ClientID)
	if err != nil {
		return nil, err
	}
	if idToken.Nonce != nonce {
		return nil, errors.New("the ID token's nonce does not match the request")
	}
	if tr.AccessToken != "" && idToken.AccessTokenHash != "" {
		if err := idToken.VerifyAccessToken(tr.AccessToken); err != nil {
			return nil, fmt.Errorf("the ID token's at_hash does not match the access token: %w", err)
		}
	}
	t := &Tokens{AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken, IDToken: tr.IDToken, IDExpiry: idToken.Expiry, IDClaims: claims}
	if tr.ExpiresIn > 0 {
		t.AccessExpiry = c.Clock().Add(time.Duration(tr.ExpiresIn) * time.Second)
	}
	return t, nil
}

func (c *Client) verifyIDToken(ctx context.Context, raw, audience string) (*oidc.IDToken, map[string]any, error) {
	ctx = oidc.ClientContext(ctx, c.HTTP)
	verifier := c.provider.VerifierContext(ctx, &oidc.Config{ClientID: audience, Now: c.Clock})
	token, err := verifier.Verify(ctx, raw)
	if err != nil {
		return nil, nil, fmt.Errorf("the ID token is not valid: %w", err)
	}
	var claims map[string]any
	if err := token.Claims(&claims); err != nil {
		return nil, nil, err
	}
	return token, claims, nil
}
