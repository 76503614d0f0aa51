// SPDX-License-Identifier: Apache-2.0

package oidc

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/oauth2"
)

// upstreamDataVersion is the version of the UpstreamData format below.
const upstreamDataVersion = 1

// upstreamData is the JSON stored in upstream.Identity.UpstreamData by OIDC
// providers, for example
//
//	{"v":1,"iss":"https://idp.example.com","sub":"u-123",
//	 "refreshToken":"…","accessToken":"…","accessTokenExpiry":"2026-01-02T15:04:05Z"}
//
// Iss and sub are those of the ID token at login; the tokens are the latest the
// upstream issued (refresh rotates them). A field is omitted when the upstream
// did not return it. It holds secrets: the session store seals it at rest.
type upstreamData struct {
	Version           int        `json:"v"`
	Issuer            string     `json:"iss"`
	Subject           string     `json:"sub"`
	RefreshToken      string     `json:"refreshToken,omitempty"`
	AccessToken       string     `json:"accessToken,omitempty"`
	AccessTokenExpiry *time.Time `json:"accessTokenExpiry,omitempty"`
}

// newUpstreamData records the tokens of tok for the user sub of issuer.
func newUpstreamData(issuer, sub string, tok *oauth2.Token) *upstreamData {
	d := &upstreamData{Version: upstreamDataVersion, Issuer: issuer, Subject: sub}
	d.setTokens(tok)
	return d
}

// setTokens stores the access token of tok and, when tok has one, its refresh token.
func (d *upstreamData) setTokens(tok *oauth2.Token) {
	if tok.RefreshToken != "" {
		d.RefreshToken = tok.RefreshToken
	}
	d.AccessToken = tok.AccessToken
	d.AccessTokenExpiry = nil
	if !tok.Expiry.IsZero() {
		exp := tok.Expiry.UTC().Truncate(time.Second)
		d.AccessTokenExpiry = &exp
	}
}

func (d *upstreamData) marshal() ([]byte, error) {
	b, err := json.Marshal(d) //nolint:gosec // G117: upstream data is stored sealed in the session Secret, never shown.
	if err != nil {
		return nil, fmt.Errorf("encode upstream data: %w", err)
	}
	return b, nil
}

// parseUpstreamData decodes b and checks that it was made for issuer. Errors never
// quote b.
func parseUpstreamData(b []byte, issuer string) (*upstreamData, error) {
	var d upstreamData
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, errors.New("decode upstream data: not the JSON of an OIDC upstream identity")
	}
	switch {
	case d.Version != upstreamDataVersion:
		return nil, fmt.Errorf("decode upstream data: unsupported version %d", d.Version)
	case d.Issuer != issuer:
		return nil, fmt.Errorf("upstream data was issued by %q, not by this provider's issuer %q", d.Issuer, issuer)
	case d.Subject == "":
		return nil, errors.New("decode upstream data: no subject")
	}
	return &d, nil
}
