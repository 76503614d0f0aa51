// SPDX-License-Identifier: Apache-2.0

package github

import "testing"

func TestEndpointsFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		host, authorize, token, api string
	}{
		{"", "https://github.com/login/oauth/authorize", "https://github.com/login/oauth/access_token", "https://api.github.com"},
		{"github.com", "https://github.com/login/oauth/authorize", "https://github.com/login/oauth/access_token", "https://api.github.com"},
		{"api.github.com", "https://github.com/login/oauth/authorize", "https://github.com/login/oauth/access_token", "https://api.github.com"},
		{"GitHub.com", "https://github.com/login/oauth/authorize", "https://github.com/login/oauth/access_token", "https://api.github.com"},
		{"ghe.example.com", "https://ghe.example.com/login/oauth/authorize", "https://ghe.example.com/login/oauth/access_token", "https://ghe.example.com/api/v3"},
		{"ghe.example.com:8443", "https://ghe.example.com:8443/login/oauth/authorize", "https://ghe.example.com:8443/login/oauth/access_token", "https://ghe.example.com:8443/api/v3"},
		{"[::1]:8443", "https://[::1]:8443/login/oauth/authorize", "https://[::1]:8443/login/oauth/access_token", "https://[::1]:8443/api/v3"},
	}
	for _, tt := range tests {
		ep, err := endpointsFor(tt.host)
		if err != nil || ep != (endpoints{tt.authorize, tt.token, tt.api}) {
			t.Errorf("endpointsFor(%q) = %+v, %v", tt.host, ep, err)
		}
	}
	for _, bad := range []string{"https://github.com", "github.com/x", "user@host", "a b", "host:", "host?x", ":443", "host#f"} {
		if ep, err := endpointsFor(bad); err == nil {
			t.Errorf("endpointsFor(%q) = %+v, want an error", bad, ep)
		}
	}
}

func TestNextPage(t *testing.T) {
	t.Parallel()
	p := &Provider{endpoints: endpoints{api: "https://ghe.example.com/api/v3"}}
	tests := []struct {
		header, want string
		wantErr      bool
	}{
		{header: ""},
		{header: `<https://ghe.example.com/api/v3/user/teams?page=1>; rel="prev", <https://ghe.example.com/api/v3/user/teams?page=3>; rel="next", <https://ghe.example.com/api/v3/user/teams?page=9>; rel="last"`,
			want: "https://ghe.example.com/api/v3/user/teams?page=3"},
		{header: `<https://ghe.example.com/api/v3/user/teams?page=9>; rel="last"`},
		{header: `<https://evil.example.com/api/v3/user/teams?page=2>; rel="next"`, wantErr: true},
		{header: `<http://ghe.example.com/api/v3/user/teams?page=2>; rel="next"`, wantErr: true},
		{header: `<https://ghe.example.com/api/v3x/teams?page=2>; rel="next"`, wantErr: true},
	}
	for _, tt := range tests {
		got, err := p.nextPage(tt.header)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("nextPage(%q) = %q, %v; want %q (error %t)", tt.header, got, err, tt.want, tt.wantErr)
		}
	}
}
