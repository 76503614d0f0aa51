// SPDX-License-Identifier: Apache-2.0

package logincmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/selkie-dev/selkie/pkg/cli/internal/oidcclient"
)

// Login flows. flowDevice is Selkie's own: IdP discovery never lists it, any IdP with
// flowBrowser allows it (docs/wire-contract.md §5).
const (
	flowBrowser  = "browser_authcode"
	flowPassword = "cli_password"
	flowDevice   = "device_code"
)

// interactive logs the user in: the IdP named by the flags (checked against IdP
// discovery) with its flow, by password, in a browser, or in a browser elsewhere
// (device code).
//
//nolint:gocyclo // one decision per login flow and fallback, in the order docs/cli.md gives them.
func (l *oidcLogin) interactive(ctx context.Context) (*oidcclient.Tokens, error) {
	f := l.f
	req := oidcclient.AuthRequest{Scopes: f.scopes, IDPName: f.idpName, IDPType: f.idpType}
	flow := f.idpFlow
	if v := l.deps.env("UPSTREAM_IDENTITY_PROVIDER_FLOW"); v != "" {
		flow = v
	}
	idps, err := l.client.IdentityProviders(ctx)
	if err != nil {
		return nil, err
	}
	if f.idpName != "" && idps != nil {
		i := slices.IndexFunc(idps, func(p oidcclient.IdentityProvider) bool { return p.Name == f.idpName && p.Type == f.idpType })
		if i < 0 {
			return nil, fmt.Errorf("no identity provider named %q of type %q at %s", f.idpName, f.idpType, f.issuer)
		}
		switch {
		case flow == "" && len(idps[i].Flows) > 0:
			flow = idps[i].Flows[0]
		case flow == flowDevice && len(idps[i].Flows) > 0 && !slices.Contains(idps[i].Flows, flowBrowser):
			return nil, fmt.Errorf("identity provider %q does not support the %s flow (it needs %s; it supports %s)", f.idpName, flow, flowBrowser, strings.Join(idps[i].Flows, ", "))
		case flow != "" && flow != flowDevice && len(idps[i].Flows) > 0 && !slices.Contains(idps[i].Flows, flow):
			return nil, fmt.Errorf("identity provider %q does not support the %s flow (it supports %s)", f.idpName, flow, strings.Join(idps[i].Flows, ", "))
		}
	}
	tty, ttyErr := l.deps.OpenTTY()
	if ttyErr == nil {
		defer tty.Close()
	}
	switch flow {
	case "", flowBrowser:
		opts := oidcclient.BrowserOptions{ListenPort: f.listenPort, SkipListen: f.skipListen, SkipBrowser: f.skipBrowser,
			OpenBrowser: l.deps.OpenBrowser, Prompt: l.deps.Stderr, SkipPrintURL: l.deps.env("SKIP_PRINT_LOGIN_URL") == "true"}
		if ttyErr == nil {
			opts.TTY = tty
		}
		return l.client.BrowserLogin(ctx, req, opts)
	case flowPassword:
		username, password, err := l.credentials(tty, ttyErr)
		if err != nil {
			return nil, err
		}
		return l.client.PasswordLogin(ctx, req, f.listenPort, username, password)
	case flowDevice:
		return l.client.DeviceLogin(ctx, req, oidcclient.DeviceOptions{Prompt: l.deps.Stderr})
	default:
		return nil, fmt.Errorf("unknown login flow %q: use %s, %s or %s", flow, flowBrowser, flowPassword, flowDevice)
	}
}

// credentials come from the environment, or else from prompts on the terminal.
func (l *oidcLogin) credentials(tty io.ReadWriter, ttyErr error) (string, string, error) {
	username, password := l.deps.env("USERNAME"), l.deps.env("PASSWORD")
	if (username == "" || password == "") && ttyErr != nil {
		return "", "", errors.New("no terminal to prompt for a username and password: set PINNIPED_USERNAME and PINNIPED_PASSWORD")
	}
	if username == "" {
		fmt.Fprint(tty, "Username: ")
		u, err := readLine(tty)
		if err != nil && u == "" {
			return "", "", fmt.Errorf("read the username: %w", err)
		}
		username = strings.TrimSpace(u)
	}
	if password == "" {
		fmt.Fprint(tty, "Password: ")
		p, err := l.deps.ReadPassword(tty)
		if err != nil && p == "" {
			return "", "", fmt.Errorf("read the password: %w", err)
		}
		password = p
	}
	if username == "" || password == "" {
		return "", "", errors.New("a username and a password are required")
	}
	return username, password, nil
}
