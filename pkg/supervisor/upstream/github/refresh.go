// SPDX-License-Identifier: Apache-2.0

package github

import (
	"context"
	"errors"
	"fmt"

	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// Refresh re-validates previous at GitHub (docs/wire-contract.md §2.9): with the stored
// access token it queries the user, organizations and teams again. The user ID
// and login must be unchanged, the organization policy must still admit the
// user, and the groups are updated. A revoked token or any GitHub failure is an
// error.
func (p *Provider) Refresh(ctx context.Context, previous *upstream.Identity) (*upstream.Identity, error) {
	if previous == nil {
		return nil, errors.New("refresh GitHub identity: no previous identity")
	}
	d, err := parseUpstreamData(previous.UpstreamData, p.endpoints.api)
	if err != nil {
		return nil, fmt.Errorf("refresh GitHub identity: %w", err)
	}
	if d.ID != previous.Subject {
		return nil, errors.New("refresh GitHub identity: upstream data belongs to another subject")
	}
	if d.AccessToken == "" {
		return nil, errors.New("refresh GitHub identity: no access token is stored")
	}
	next, err := p.identity(ctx, d.AccessToken, d)
	if err != nil {
		return nil, fmt.Errorf("refresh GitHub identity: %w", err)
	}
	if next.Username != previous.Username {
		return nil, errors.New("refresh GitHub identity: the username changed since login")
	}
	return next, nil
}
