// SPDX-License-Identifier: Apache-2.0

package logincmd

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/selkie-dev/selkie/pkg/cli/cache"
)

// OIDCArgs are the settings of a `login oidc` invocation that other commands (logout)
// need to find its cache entries and its issuer.
type OIDCArgs struct {
	Issuer, ClientID     string
	Scopes               []string
	ListenPort           int
	IDPName              string
	SessionCache         string
	CredentialCache      string
	caBundles, caBundleD []string
}

// ParseOIDCArgs reads the arguments of an exec plugin call (`login oidc ...`, as a
// kubeconfig stores them) with the same flags and defaults as the command.
func ParseOIDCArgs(args []string) (*OIDCArgs, error) {
	if len(args) < 2 || args[0] != "login" || args[1] != "oidc" {
		return nil, errors.New("not a `login oidc` invocation")
	}
	f := &oidcFlags{}
	cmd := newOIDCCommandFor(Deps{}, f)
	if err := cmd.ParseFlags(args[2:]); err != nil {
		return nil, fmt.Errorf("parse the login arguments: %w", err)
	}
	return &OIDCArgs{Issuer: f.issuer, ClientID: f.clientID, Scopes: slices.Clone(f.scopes), ListenPort: f.listenPort,
		IDPName: f.idpName, SessionCache: f.sessionCache, CredentialCache: f.concierge.credentialCache,
		caBundles: f.caBundles, caBundleD: f.caBundleData}, nil
}

// SessionKey is the session cache key of this invocation (docs/wire-contract.md §3.5).
func (a *OIDCArgs) SessionKey() cache.SessionKey {
	scopes := slices.Clone(a.Scopes)
	slices.Sort(scopes)
	return cache.SessionKey{Issuer: a.Issuer, ClientID: a.ClientID, Scopes: scopes,
		RedirectURI: fmt.Sprintf("http://localhost:%d/callback", a.ListenPort), UpstreamProviderName: a.IDPName}
}

// HTTPClient trusts the invocation's CA bundles for the issuer.
func (a *OIDCArgs) HTTPClient() (*http.Client, error) {
	return issuerHTTPClient(a.caBundles, a.caBundleD)
}
