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
	"strings"
)

const (
	// maxPages bounds the pages read from one list endpoint (100 items each): a
	// longer list is refused rather than silently truncated.
	maxPages = 50
	// maxResponse bounds how much of one GitHub response is read.
	maxResponse = 4 << 20
	// apiVersion is the REST API version the queries are written against.
	apiVersion = "2022-11-28"
)

// user is the part of GET /user that is used.
type user struct {
	Login string `json:"login"`
	ID    int64  `json:"id"`
}

// org is the part of an item of GET /user/orgs that is used.
type org struct {
	Login string `json:"login"`
}

// team is the part of an item of GET /user/teams that is used.
type team struct {
	Name         string `json:"name"`
	Slug         string `json:"slug"`
	Organization struct {
		Login string `json:"login"`
	} `json:"organization"`
}

// APIError is a GitHub REST API response other than 200. It keeps no response
// body.
type APIError struct {
	// Path is the request path below the API base ("/user").
	Path string
	// StatusCode is the HTTP status of the response.
	StatusCode int
}

// Error describes the response without secrets.
func (e *APIError) Error() string {
	return fmt.Sprintf("GitHub API GET %s responded %d %s", e.Path, e.StatusCode, http.StatusText(e.StatusCode))
}

// getUser returns the user of token.
func (p *Provider) getUser(ctx context.Context, token string) (*user, error) {
	var u user
	if _, err := p.get(ctx, token, p.endpoints.api+"/user", "/user", &u); err != nil {
		return nil, err
	}
	if u.Login == "" || u.ID <= 0 {
		return nil, errors.New("GitHub API GET /user returned no login or id")
	}
	return &u, nil
}

// getOrgs returns the organization logins of the user of token.
func (p *Provider) getOrgs(ctx context.Context, token string) ([]string, error) {
	orgs, err := getAll[org](ctx, p, token, "/user/orgs")
	if err != nil {
		return nil, err
	}
	logins := make([]string, 0, len(orgs))
	for _, o := range orgs {
		logins = append(logins, o.Login)
	}
	return logins, nil
}

// getTeams returns the teams of the user of token.
func (p *Provider) getTeams(ctx context.Context, token string) ([]team, error) {
	return getAll[team](ctx, p, token, "/user/teams")
}

// getAll reads every page of the list at path, following Link rel="next".
func getAll[T any](ctx context.Context, p *Provider, token, path string) ([]T, error) {
	var all []T
	next := p.endpoints.api + path + "?per_page=100"
	for page := 0; next != ""; page++ {
		if page == maxPages {
			return nil, fmt.Errorf("GitHub API GET %s: more than %d pages", path, maxPages)
		}
		var items []T
		link, err := p.get(ctx, token, next, path, &items)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next, err = p.nextPage(link); err != nil {
			return nil, fmt.Errorf("GitHub API GET %s: %w", path, err)
		}
	}
	return all, nil
}

// nextPage returns the rel="next" URL of a Link header, or "". It must stay on
// the API base: the access token is sent to it.
func (p *Provider) nextPage(header string) (string, error) {
	for _, part := range strings.Split(header, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			continue
		}
		isNext := false
		for _, param := range strings.Split(params, ";") {
			if k, v, _ := strings.Cut(strings.TrimSpace(param), "="); k == "rel" && strings.Trim(v, `"`) == "next" {
				isNext = true
			}
		}
		if !isNext {
			continue
		}
		next := strings.TrimSuffix(strings.TrimPrefix(target, "<"), ">")
		u, err := url.Parse(next)
		if err != nil || u.Scheme != "https" || !strings.HasPrefix(u.Scheme+"://"+u.Host+u.Path, p.endpoints.api+"/") {
			return "", errors.New("the next page link is not below the API base")
		}
		return next, nil
	}
	return "", nil
}

// get fetches u with token, decodes the JSON body into v and returns the Link header.
func (p *Provider) get(ctx context.Context, token, u, path string, v any) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("GitHub API GET %s: %w", path, err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", apiVersion)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := p.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("GitHub API GET %s: %w", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
		return "", &APIError{Path: path, StatusCode: resp.StatusCode}
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(v); err != nil {
		return "", fmt.Errorf("GitHub API GET %s: decode response: %w", path, err)
	}
	return resp.Header.Get("Link"), nil
}
