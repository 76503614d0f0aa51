// SPDX-License-Identifier: Apache-2.0

package oidcclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/selkie-dev/selkie/pkg/cli/httpretry"
)

// Device logins (RFC 8628, a Selkie supervisor extension).
const (
	grantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"
	// defaultDeviceInterval is RFC 8628's default polling interval; slow_down adds
	// deviceSlowDown to it for the rest of the login.
	defaultDeviceInterval = 5 * time.Second
	deviceSlowDown        = 5 * time.Second
)

// DeviceOptions configure the device flow.
type DeviceOptions struct {
	// Prompt receives the URL and the code to confirm (stderr, never stdout).
	Prompt io.Writer
	// Sleep waits d or until ctx ends; nil waits on a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// deviceAuthorization is the device authorization endpoint's answer (RFC 8628 §3.2).
type deviceAuthorization struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
	Error                   string `json:"error"`
	Description             string `json:"error_description"`
}

// DeviceLogin runs the device flow: the user opens the printed URL in any browser,
// confirms the code and logs in, while the CLI polls the token endpoint. The tokens
// are verified like those of the code flow (there is no nonce).
func (c *Client) DeviceLogin(ctx context.Context, req AuthRequest, opts DeviceOptions) (*Tokens, error) {
	if !strings.HasPrefix(c.Meta.DeviceAuthorizationEndpoint, "https://") {
		return nil, fmt.Errorf("the issuer %q does not offer device logins (no https device_authorization_endpoint)", c.Meta.Issuer)
	}
	da, err := c.authorizeDevice(ctx, req)
	if err != nil {
		return nil, err
	}
	visit := da.VerificationURIComplete
	if visit == "" {
		visit = da.VerificationURI
	}
	fmt.Fprintf(opts.Prompt, "To log in, visit %s\nand confirm the code %s\n", visit, da.UserCode)
	sleep := opts.Sleep
	if sleep == nil {
		sleep = httpretry.Sleep
	}
	return c.pollDevice(ctx, da, sleep)
}

// authorizeDevice asks for a device code and a user code.
func (c *Client) authorizeDevice(ctx context.Context, req AuthRequest) (*deviceAuthorization, error) {
	form := url.Values{"client_id": {c.ClientID}, "scope": {strings.Join(req.Scopes, " ")}}
	if req.IDPName != "" {
		form.Set("pinniped_idp_name", req.IDPName)
	}
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Meta.DeviceAuthorizationEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	httpReq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.HTTP.Do(httpReq)
	if err != nil {
		return nil, fmt.Errorf("device authorization: %w", err)
	}
	defer resp.Body.Close()
	var da deviceAuthorization
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&da); err != nil {
		return nil, fmt.Errorf("device authorization (%s): %w", resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("device authorization refused: %s: %s (Audit-ID %s)", da.Error, da.Description, resp.Header.Get("Audit-ID"))
	}
	if da.DeviceCode == "" || da.UserCode == "" || !strings.HasPrefix(da.VerificationURI, "https://") ||
		(da.VerificationURIComplete != "" && !strings.HasPrefix(da.VerificationURIComplete, "https://")) {
		return nil, errors.New("device authorization: the answer lacks a device code, a user code or an https verification URI")
	}
	return &da, nil
}

// pollDevice polls the token endpoint every interval until the user approved, denied
// or the code expired.
func (c *Client) pollDevice(ctx context.Context, da *deviceAuthorization, sleep func(context.Context, time.Duration) error) (*Tokens, error) {
	interval := time.Duration(da.Interval) * time.Second
	if interval <= 0 {
		interval = defaultDeviceInterval
	}
	var deadline time.Time
	if da.ExpiresIn > 0 {
		deadline = c.Clock().Add(time.Duration(da.ExpiresIn) * time.Second)
	}
	form := url.Values{"grant_type": {grantDeviceCode}, "device_code": {da.DeviceCode}}
	for {
		if err := sleep(ctx, interval); err != nil {
			return nil, fmt.Errorf("login timed out or was cancelled: %w", err)
		}
		tr, err := c.postToken(ctx, form)
		if err == nil {
			return c.verifyTokens(ctx, tr, "")
		}
		var te *TokenError
		if !errors.As(err, &te) {
			return nil, err
		}
		switch te.Code {
		case "authorization_pending":
		case "slow_down":
			interval += deviceSlowDown
		case "access_denied":
			return nil, fmt.Errorf("the login was denied or failed in the browser: %w", err)
		case "expired_token":
			return nil, fmt.Errorf("the code expired before the login was completed: %w", err)
		default:
			return nil, err
		}
		c.Log.Debug("waiting for the login in the browser", "answer", te.Code, "interval", interval)
		if !deadline.IsZero() && c.Clock().After(deadline) {
			return nil, errors.New("the code expired before the login was completed")
		}
	}
}
