// SPDX-License-Identifier: Apache-2.0

package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// TokenEndpointError is an error of GitHub's access_token endpoint. GitHub
// answers most errors with 200 and an "error" field. It keeps no response body.
type TokenEndpointError struct {
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// Code and Description are GitHub's error and error_description.
	Code        string
	Description string
}

// Error describes the response without secrets.
func (e *TokenEndpointError) Error() string {
	msg := fmt.Sprintf("exchange GitHub authorization code: access_token endpoint responded %d", e.StatusCode)
	if e.Code != "" {
		msg += ": " + e.Code
	}
	if e.Description != "" {
		msg += " (" + truncate(e.Description, 200) + ")"
	}
	return msg
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ExchangeCode redeems code at GitHub's access_token endpoint and queries who the
// user is. GitHub's OAuth web flow has no ID token: codeVerifier and nonce are
// not used (see AuthorizeURL).
func (p *Provider) ExchangeCode(ctx context.Context, code, _, _, redirectURI string) (*upstream.Identity, error) {
	token, err := p.redeem(ctx, code, redirectURI)
	if err != nil {
		return nil, err
	}
	return p.identity(ctx, token, nil)
}

// redeem exchanges code for an access token.
func (p *Provider) redeem(ctx context.Context, code, redirectURI string) (string, error) {
	form := url.Values{"client_id": {p.clientID}, "client_secret": {p.clientSecret}, "code": {code}, "redirect_uri": {redirectURI}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoints.token, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("exchange GitHub authorization code: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("exchange GitHub authorization code: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	var body struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	decodeErr := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(&body)
	switch {
	case resp.StatusCode != http.StatusOK || body.Error != "":
		return "", &TokenEndpointError{StatusCode: resp.StatusCode, Code: body.Error, Description: body.Description}
	case decodeErr != nil:
		return "", fmt.Errorf("exchange GitHub authorization code: decode response: %w", decodeErr)
	case body.AccessToken == "":
		return "", errors.New("exchange GitHub authorization code: the response has no access_token")
	case body.TokenType != "" && !strings.EqualFold(body.TokenType, "bearer"):
		return "", fmt.Errorf("exchange GitHub authorization code: unsupported token_type %q", body.TokenType)
	}
	return body.AccessToken, nil
}

// identity queries the user, organizations and teams of token, applies the
// organization policy and maps the result. When previous is not nil (refresh),
// the user's ID and login must be those of previous.
func (p *Provider) identity(ctx context.Context, token string, previous *upstreamData) (*upstream.Identity, error) {
	u, err := p.getUser(ctx, token)
	if err != nil {
		return nil, err
	}
	id := strconv.FormatInt(u.ID, 10)
	if previous != nil {
		// The downstream sub names the login and the ID: neither may change
		// within a session.
		if id != previous.ID {
			return nil, errors.New("the GitHub user ID changed since login")
		}
		if u.Login != previous.Login {
			return nil, errors.New("the GitHub login changed since login")
		}
	}
	if p.policy.restricts() {
		orgs, err := p.getOrgs(ctx, token)
		if err != nil {
			return nil, err
		}
		if err := p.policy.admit(orgs); err != nil {
			return nil, fmt.Errorf("GitHub user %q: %w", u.Login, err)
		}
	}
	teams, err := p.getTeams(ctx, token)
	if err != nil {
		return nil, err
	}
	data, err := (&upstreamData{Version: upstreamDataVersion, API: p.endpoints.api, Login: u.Login, ID: id, AccessToken: token}).marshal()
	if err != nil {
		return nil, err
	}
	return &upstream.Identity{
		Subject:      id,
		Username:     usernameOf(p.username, u),
		Groups:       groupsOf(p.groups, p.policy, teams),
		UpstreamData: data,
	}, nil
}
