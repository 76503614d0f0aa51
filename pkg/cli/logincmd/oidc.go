// SPDX-License-Identifier: Apache-2.0

package logincmd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientauthv1beta1 "k8s.io/client-go/pkg/apis/clientauthentication/v1beta1"
	"k8s.io/utils/ptr"

	"github.com/selkie-dev/selkie/pkg/cli/cache"
	"github.com/selkie-dev/selkie/pkg/cli/internal/conciergeclient"
	"github.com/selkie-dev/selkie/pkg/cli/internal/oidcclient"
)

// Cache freshness rules of docs/wire-contract.md §3.5.
const (
	minAccessTokenLife = 10 * time.Second
	minIDTokenLife     = 10 * time.Minute
	loginTimeout       = 15 * time.Minute
)

type oidcFlags struct {
	issuer, clientID, requestAudience string
	scopes                            []string
	listenPort                        int
	skipBrowser, skipListen           bool
	sessionCache                      string
	caBundles, caBundleData           []string
	idpName, idpType, idpFlow         string
	debugSessionCache                 bool
	concierge                         conciergeFlags
}

func newOIDCCommand(deps Deps) *cobra.Command { return newOIDCCommandFor(deps, &oidcFlags{}) }

func newOIDCCommandFor(deps Deps, f *oidcFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "oidc --issuer URL",
		Short: "Log in with an OIDC issuer (a Selkie or Pinniped supervisor)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runOIDC(cmd.Context(), deps, f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.issuer, "issuer", "", "OIDC issuer URL (https)")
	fs.StringVar(&f.clientID, "client-id", "pinniped-cli", "OAuth client ID")
	fs.StringSliceVar(&f.scopes, "scopes", []string{"offline_access", "openid", "pinniped:request-audience", "username", "groups"}, "scopes to request")
	fs.StringVar(&f.requestAudience, "request-audience", "", "exchange the ID token for one with this audience (the cluster's)")
	fs.IntVar(&f.listenPort, "listen-port", 0, "port of the loopback listener for the browser login (0: any)")
	fs.BoolVar(&f.skipBrowser, "skip-browser", false, "print the login URL instead of opening a browser")
	fs.BoolVar(&f.skipListen, "skip-listen", false, "start no loopback listener (paste the code instead)")
	fs.StringVar(&f.sessionCache, "session-cache", cache.DefaultSessionPath(), "session cache file")
	fs.StringSliceVar(&f.caBundles, "ca-bundle", nil, "CA bundle file of the issuer (repeatable)")
	fs.StringSliceVar(&f.caBundleData, "ca-bundle-data", nil, "CA bundle of the issuer, base64 PEM (repeatable)")
	fs.StringVar(&f.idpName, "upstream-identity-provider-name", "", "identity provider to log in with (IdP discovery name)")
	fs.StringVar(&f.idpType, "upstream-identity-provider-type", "oidc", "its type: oidc, ldap, activedirectory or github")
	fs.StringVar(&f.idpFlow, "upstream-identity-provider-flow", "", "login flow: browser_authcode, cli_password or device_code (Selkie supervisors only; default: the IdP's first)")
	fs.BoolVar(&f.debugSessionCache, "debug-session-cache", false, "log session cache activity")
	_ = fs.MarkHidden("skip-listen")
	_ = fs.MarkHidden("debug-session-cache")
	f.concierge.register(cmd, cache.DefaultCredentialPath())
	return cmd
}

func runOIDC(ctx context.Context, deps Deps, f *oidcFlags) error {
	if ctx == nil {
		ctx = context.Background()
	}
	log := deps.logger()
	info := deps.execInfo()
	if f.issuer == "" || !strings.HasPrefix(f.issuer, "https://") {
		return fmt.Errorf("--issuer %q must be an https URL", f.issuer)
	}
	if err := f.concierge.validate(); err != nil {
		return err
	}
	var creds *cache.CredentialCache
	credKey := cache.CredentialKey(deps.Args, info.cluster)
	if f.concierge.credentialCache != "" {
		creds = cache.NewCredentialCache(f.concierge.credentialCache, cache.WithLogger(log))
		if c := creds.Get(credKey); c != nil {
			log.Debug("credential cache hit")
			return deps.printCredential(info, c)
		}
	}
	httpClient, err := issuerHTTPClient(f.caBundles, f.caBundleData)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	l := &oidcLogin{deps: deps, f: f, http: httpClient}
	token, expiry, err := l.idToken(ctx)
	if err != nil {
		return err
	}
	status := &clientauthv1beta1.ExecCredentialStatus{Token: token, ExpirationTimestamp: ptrTime(expiry)}
	if f.concierge.enabled {
		if status, err = conciergeclient.ExchangeToken(ctx, f.concierge.config(log), token); err != nil {
			return err
		}
	}
	if creds != nil {
		creds.Put(credKey, status)
	}
	return deps.printCredential(info, status)
}

// oidcLogin is one run of the login algorithm.
type oidcLogin struct {
	deps   Deps
	f      *oidcFlags
	http   *http.Client
	client *oidcclient.Client
}

// idToken returns the ID token to present: the cluster-audience one when
// --request-audience is set.
func (l *oidcLogin) idToken(ctx context.Context) (string, time.Time, error) {
	f, log := l.f, l.deps.logger()
	var sessionLog = log
	if !f.debugSessionCache {
		sessionLog = nil
	}
	sessions := cache.NewSessionCache(f.sessionCache, cache.WithLogger(sessionLog))
	key := (&OIDCArgs{Issuer: f.issuer, ClientID: f.clientID, Scopes: f.scopes, ListenPort: f.listenPort, IDPName: f.idpName}).SessionKey()
	tokens := sessions.Get(key)
	if !l.fresh(tokens) {
		// One login at a time per session cache: a process that waited here finds the
		// session the other one stored and uses it.
		release, err := cache.LockLogin(f.sessionCache, loginTimeout)
		if err != nil {
			log.Debug("could not serialise the login; going on without", "error", err)
		}
		defer release()
		tokens = sessions.Get(key)
	}
	if !l.fresh(tokens) {
		if err := l.discover(ctx); err != nil {
			return "", time.Time{}, err
		}
		var got *oidcclient.Tokens
		if tokens != nil && tokens.Refresh != nil {
			refreshed, err := l.client.Refresh(ctx, tokens.Refresh.Token)
			switch {
			case err == nil:
				got = refreshed
			case errors.Is(err, oidcclient.ErrTokenEndpoint): // the session is over
				log.Debug("the supervisor refused the refresh; logging in again", "error", err)
			default: // the session may be fine: leave it cached for the next call
				return "", time.Time{}, fmt.Errorf("could not refresh the session at %s (no new login was started): %w", f.issuer, err)
			}
		}
		if got == nil {
			var err error
			if got, err = l.interactive(ctx); err != nil {
				return "", time.Time{}, err
			}
		}
		tokens = toCache(got, tokens)
		sessions.Put(key, tokens)
	}
	if tokens.ID == nil {
		return "", time.Time{}, errors.New("the supervisor returned no ID token")
	}
	if f.requestAudience == "" || audienceOf(tokens.ID) == f.requestAudience {
		return tokens.ID.Token, tokens.ID.Expiry, nil
	}
	if tokens.Access == nil {
		return "", time.Time{}, errors.New("the session has no access token to exchange")
	}
	if err := l.discover(ctx); err != nil {
		return "", time.Time{}, err
	}
	return l.client.Exchange(ctx, tokens.Access.Token, f.requestAudience)
}

// fresh applies the session cache hit rules.
func (l *oidcLogin) fresh(t *cache.Tokens) bool {
	if t == nil || t.ID == nil {
		return false
	}
	now := l.deps.Clock()
	if l.f.requestAudience != "" && audienceOf(t.ID) != l.f.requestAudience {
		return t.Access != nil && t.Access.Expiry.Sub(now) > minAccessTokenLife
	}
	return t.ID.Expiry.Sub(now) > minIDTokenLife
}

func (l *oidcLogin) discover(ctx context.Context) error {
	if l.client != nil {
		return nil
	}
	c, err := oidcclient.Discover(ctx, l.f.issuer, l.f.clientID, l.http, l.deps.logger())
	l.client = c
	return err
}

func audienceOf(id *cache.IDToken) string {
	switch aud := id.Claims["aud"].(type) {
	case string:
		return aud
	case []any:
		if len(aud) == 1 {
			s, _ := aud[0].(string)
			return s
		}
	}
	return ""
}

func toCache(t *oidcclient.Tokens, previous *cache.Tokens) *cache.Tokens {
	out := &cache.Tokens{ID: &cache.IDToken{Token: t.IDToken, Expiry: t.IDExpiry, Claims: t.IDClaims}}
	if t.AccessToken != "" {
		out.Access = &cache.AccessToken{Token: t.AccessToken, Type: "bearer", Expiry: t.AccessExpiry}
	}
	switch {
	case t.RefreshToken != "":
		out.Refresh = &cache.RefreshToken{Token: t.RefreshToken}
	case previous != nil && previous.Refresh != nil:
		out.Refresh = previous.Refresh
	}
	return out
}

func issuerHTTPClient(files, data []string) (*http.Client, error) {
	var pems [][]byte
	for _, path := range files {
		b, err := os.ReadFile(path) //nolint:gosec // G304: a CA bundle path the user gave.
		if err != nil {
			return nil, fmt.Errorf("--ca-bundle: %w", err)
		}
		pems = append(pems, b)
	}
	for _, d := range data {
		b, err := base64.StdEncoding.DecodeString(d)
		if err != nil {
			return nil, fmt.Errorf("--ca-bundle-data is not base64: %w", err)
		}
		pems = append(pems, b)
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(pems) > 0 {
		pool := x509.NewCertPool()
		for _, p := range pems {
			if !pool.AppendCertsFromPEM(p) {
				return nil, errors.New("a CA bundle holds no PEM certificate")
			}
		}
		tlsConfig.RootCAs = pool
	}
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig, Proxy: http.ProxyFromEnvironment}}, nil
}

func ptrTime(t time.Time) *metav1.Time { return ptr.To(metav1.NewTime(t)) }
