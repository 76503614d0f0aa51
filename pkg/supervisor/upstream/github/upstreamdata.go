// SPDX-License-Identifier: Apache-2.0

package github

import (
	"encoding/json"
	"errors"
	"fmt"
)

// upstreamDataVersion is the version of the UpstreamData format below.
const upstreamDataVersion = 1

// upstreamData is the JSON stored in upstream.Identity.UpstreamData by GitHub
// providers, for example
//
//	{"v":1,"api":"https://api.github.com","login":"octocat","id":"583231","accessToken":"…"}
//
// The login and ID are those at login; refresh requires them to be unchanged.
// GitHub OAuth App tokens do not expire and GitHub App user tokens are used
// without refresh, so the access token is all there is to keep. It is a secret:
// the session store seals UpstreamData at rest.
type upstreamData struct {
	Version     int    `json:"v"`
	API         string `json:"api"`
	Login       string `json:"login"`
	ID          string `json:"id"`
	AccessToken string `json:"accessToken"`
}

func (d *upstreamData) marshal() ([]byte, error) {
	b, err := json.Marshal(d) //nolint:gosec // G117: upstream data is stored sealed in the session Secret, never shown.
	if err != nil {
		return nil, fmt.Errorf("encode upstream data: %w", err)
	}
	return b, nil
}

// parseUpstreamData decodes b and checks that it was made for the API base api.
// Errors never quote b.
func parseUpstreamData(b []byte, api string) (*upstreamData, error) {
	var d upstreamData
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, errors.New("decode upstream data: not the JSON of a GitHub upstream identity")
	}
	switch {
	case d.Version != upstreamDataVersion:
		return nil, fmt.Errorf("decode upstream data: unsupported version %d", d.Version)
	case d.API != api:
		return nil, fmt.Errorf("upstream data was made for the GitHub API %q, not %q", d.API, api)
	case d.Login == "" || d.ID == "":
		return nil, errors.New("decode upstream data: no login or id")
	}
	return &d, nil
}
