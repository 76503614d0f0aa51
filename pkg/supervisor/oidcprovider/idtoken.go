// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
)

// idTokenClaims are the claims of docs/wire-contract.md §2.8.
type idTokenClaims struct {
	Issuer           string         `json:"iss"`
	Subject          string         `json:"sub"`
	Audience         []string       `json:"aud"`
	AuthorizedParty  string         `json:"azp"`
	IssuedAt         int64          `json:"iat"`
	Expiry           int64          `json:"exp"`
	JWTID            string         `json:"jti"`
	AuthTime         int64          `json:"auth_time"`
	RequestedAt      int64          `json:"rat"`
	Nonce            string         `json:"nonce,omitempty"`
	AccessTokenHash  string         `json:"at_hash,omitempty"`
	Username         string         `json:"username,omitempty"`
	Groups           *[]string      `json:"groups,omitempty"`
	AdditionalClaims map[string]any `json:"additionalClaims,omitempty"`
}

// idTokenRequest says which ID token to mint for a session.
type idTokenRequest struct {
	audience    string
	lifetime    time.Duration
	nonce       string
	accessToken string
	// exchange mints the token-exchange form: username and groups always.
	exchange bool
}

// mintIDToken signs an ID token for s.
func (p *Provider) mintIDToken(s *sessionstore.Session, req idTokenRequest) (string, error) {
	now := p.cfg.Clock()
	jti, err := randomString(p.cfg.Rand, 16)
	if err != nil {
		return "", err
	}
	claims := idTokenClaims{
		Issuer: p.cfg.Issuer, Subject: s.Subject, Audience: []string{req.audience}, AuthorizedParty: s.ClientID,
		IssuedAt: now.Unix(), Expiry: now.Add(req.lifetime).Unix(), JWTID: jti,
		AuthTime: s.AuthTime.Unix(), RequestedAt: s.AuthTime.Unix(), Nonce: req.nonce,
	}
	if len(s.AdditionalClaims) > 0 {
		claims.AdditionalClaims = s.AdditionalClaims
	}
	if req.accessToken != "" {
		sum := sha256.Sum256([]byte(req.accessToken))
		claims.AccessTokenHash = base64.RawURLEncoding.EncodeToString(sum[:16])
	}
	if req.exchange || slices.Contains(s.GrantedScopes, ScopeUsername) {
		claims.Username = s.Username
	}
	if req.exchange || slices.Contains(s.GrantedScopes, ScopeGroups) {
		groups := slices.Clone(s.Groups)
		if groups == nil {
			groups = []string{}
		}
		claims.Groups = &groups
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode ID token claims: %w", err)
	}
	return p.cfg.Keys().Sign(payload)
}
