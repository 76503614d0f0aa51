// SPDX-License-Identifier: Apache-2.0

package github

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// RevokeUpstream deletes the stored access token at GitHub
// (DELETE /applications/{client_id}/token, authenticated with the client
// credentials). A token GitHub no longer knows (404) counts as revoked.
func (p *Provider) RevokeUpstream(ctx context.Context, upstreamData []byte) error {
	d, err := parseUpstreamData(upstreamData, p.endpoints.api)
	if err != nil {
		return fmt.Errorf("revoke GitHub access token: %w", err)
	}
	if d.AccessToken == "" {
		return nil
	}
	body, err := json.Marshal(map[string]string{"access_token": d.AccessToken})
	if err != nil {
		return fmt.Errorf("revoke GitHub access token: %w", err)
	}
	u := p.endpoints.api + "/applications/" + url.PathEscape(p.clientID) + "/token"
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u, strings.NewReader(string(body)))
	if err != nil {
		return fmt.Errorf("revoke GitHub access token: %w", err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", apiVersion)
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(p.clientID, p.clientSecret)
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("revoke GitHub access token: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotFound {
		return fmt.Errorf("revoke GitHub access token: GitHub responded %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return nil
}
