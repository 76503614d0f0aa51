// SPDX-License-Identifier: Apache-2.0

package github

import (
	"fmt"
	"net/url"
	"strings"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
)

// endpoints are the URLs of one GitHub installation.
type endpoints struct {
	// authorize and token are the OAuth web flow endpoints.
	authorize, token string
	// api is the REST API base, without a trailing slash.
	api string
}

// endpointsFor returns the endpoints of spec.githubAPI.host (docs/wire-contract.md §1.9):
// github.com and api.github.com use https://api.github.com and github.com's
// OAuth endpoints; any other host[:port] uses https://<host>/api/v3 and
// https://<host>/login/oauth/….
func endpointsFor(host string) (endpoints, error) {
	if host == "" {
		host = idpv1alpha1.GitHubDefaultHost
	}
	u, err := url.Parse("https://" + host)
	if err != nil || u.Host != host || u.Hostname() == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" ||
		strings.ContainsAny(host, "/?#@ ") {
		return endpoints{}, fmt.Errorf("spec.githubAPI.host %q is not a valid host or host:port", host)
	}
	if port := u.Port(); strings.HasSuffix(host, ":") || (port == "" && strings.Contains(u.Host, "]:")) {
		return endpoints{}, fmt.Errorf("spec.githubAPI.host %q has an empty port", host)
	}
	switch strings.ToLower(host) {
	case "github.com", "api.github.com":
		return endpoints{
			authorize: "https://github.com/login/oauth/authorize",
			token:     "https://github.com/login/oauth/access_token",
			api:       "https://api.github.com",
		}, nil
	}
	base := "https://" + u.Host
	return endpoints{authorize: base + "/login/oauth/authorize", token: base + "/login/oauth/access_token", api: base + "/api/v3"}, nil
}
