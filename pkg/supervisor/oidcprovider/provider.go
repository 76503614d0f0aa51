// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/selkie-dev/selkie/pkg/logfingerprint"
	"github.com/selkie-dev/selkie/pkg/supervisor/keys"
	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// Paths relative to the issuer (docs/wire-contract.md §2.1).
const (
	PathDiscovery   = "/.well-known/openid-configuration"
	PathJWKS        = "/jwks.json"
	PathIDPs        = "/v1alpha1/pinniped_identity_providers"
	PathAuthorize   = "/oauth2/authorize"
	PathToken       = "/oauth2/token"
	PathRevoke      = "/oauth2/revoke"
	PathCallback    = "/callback"
	PathLogin       = "/login"
	PathChooseIDP   = "/choose_identity_provider"
	maxParamLength  = 2048
	maxRequestBytes = 64 << 10
)

// Paths of RFC 8628 device logins, a Selkie extension (docs/wire-contract.md §5).
const (
	PathDeviceAuthorization = "/oauth2/device_authorization"
	PathDevice              = "/device"
)

// Lifetimes are how long what the provider issues lives (docs/wire-contract.md §2.10, §5).
type Lifetimes struct {
	Code            time.Duration
	AccessToken     time.Duration
	IDToken         time.Duration
	ExchangeIDToken time.Duration
	Session         time.Duration
	State           time.Duration
	CSRF            time.Duration
}

// DefaultLifetimes are the contract's defaults.
func DefaultLifetimes() Lifetimes {
	return Lifetimes{Code: 10 * time.Minute, AccessToken: 2 * time.Minute, IDToken: 2 * time.Minute,
		ExchangeIDToken: 2 * time.Minute, Session: 9 * time.Hour, State: 90 * time.Minute, CSRF: 7 * 24 * time.Hour}
}

// IdP is an upstream identity provider as one FederationDomain uses it.
type IdP struct {
	// DisplayName is its name in this domain (the resource name in legacy mode).
	DisplayName string
	Provider    upstream.Provider
	// SessionLifetime overrides Lifetimes.Session for logins through it; zero keeps it.
	SessionLifetime time.Duration
	// Transform runs the domain's identity transforms at login and refresh; nil keeps
	// the identity as it is.
	Transform Transform
}

// Transform maps an upstream username and groups to the downstream ones, or rejects the
// login with a *transform.RejectedError, whose Message is shown to the user.
type Transform func(ctx context.Context, username string, groups []string) (string, []string, error)

// Config is everything one provider needs.
type Config struct {
	// Issuer is the FederationDomain's spec.issuer, byte for byte.
	Issuer string
	// Name is the FederationDomain's name, which labels its metrics.
	Name string
	// IdPs are the usable identity providers; in legacy mode exactly one.
	IdPs   []IdP
	Legacy bool
	// Keys returns the current signing keys.
	Keys func() *keys.Set
	// TokenKey keys the hashes of opaque tokens; StateSigningKey and StateEncryptionKey
	// protect upstream state and the CSRF cookie.
	TokenKey           []byte
	StateSigningKey    []byte
	StateEncryptionKey []byte
	Store              sessionstore.Store
	// Clients finds OIDCClients; nil allows only the CLI client.
	Clients   ClientLookup
	Lifetimes Lifetimes
	// LogUserInfo puts usernames and groups in audit events; off, they are redacted.
	LogUserInfo bool
	// Fingerprint keys the usernames' fingerprints in audit events (nil: a random key).
	Fingerprint *logfingerprint.Key
	// Limits are the replica's rate limits, shared by its FederationDomains (nil: no
	// rate limits; client secret checks are still cached and bounded).
	Limits *Limits
	Clock  func() time.Time
	Rand   io.Reader
	Log    *slog.Logger
}

// Provider serves one FederationDomain. It is immutable and safe for concurrent use.
type Provider struct {
	cfg    Config
	issuer *url.URL
	path   string
	tokens tokenMinter
	state  *stateCodec
	log    *slog.Logger

	upstream *upstreamKeeper // upstream data refreshed but not yet stored
}

// New validates cfg and builds the provider.
func New(cfg Config) (*Provider, error) {
	issuer, err := url.Parse(cfg.Issuer)
	if err != nil || issuer.Scheme != "https" || issuer.Host == "" {
		return nil, fmt.Errorf("issuer %q must be an https URL with a host", cfg.Issuer)
	}
	if cfg.Keys == nil || cfg.Store == nil || len(cfg.TokenKey) == 0 {
		return nil, errors.New("keys, token key and session store are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Fingerprint == nil {
		cfg.Fingerprint = logfingerprint.Random()
	}
	if cfg.Limits == nil {
		cfg.Limits = NewLimits(LimitsConfig{Clock: cfg.Clock})
	}
	if cfg.Lifetimes == (Lifetimes{}) {
		cfg.Lifetimes = DefaultLifetimes()
	}
	state, err := newStateCodec(cfg.StateSigningKey, cfg.StateEncryptionKey)
	if err != nil {
		return nil, err
	}
	log := cfg.Log.With("federationDomain", cfg.Issuer)
	p := &Provider{cfg: cfg, issuer: issuer, path: strings.TrimSuffix(issuer.Path, "/"),
		tokens: tokenMinter{key: cfg.TokenKey, random: cfg.Rand}, state: state, log: log}
	p.upstream = newUpstreamKeeper(func() sessionstore.Store { return p.cfg.Store }, cfg.Clock, func(id string, err error) {
		log.Warn("gave up storing the upstream tokens of a refreshed session: its next refresh may fail upstream",
			"session", id, "error", err)
	})
	return p, nil
}

// Issuer returns the issuer the provider serves.
func (p *Provider) Issuer() string { return p.cfg.Issuer }

// PathPrefix is the issuer's path, which every endpoint path starts with.
func (p *Provider) PathPrefix() string { return p.path }

// ServeHTTP routes a request whose path starts with the issuer's path.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	rest, ok := strings.CutPrefix(r.URL.Path, p.path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
	type route struct {
		methods []string
		handle  http.HandlerFunc
	}
	routes := map[string]route{
		PathDiscovery: {[]string{http.MethodGet}, p.discovery},
		PathJWKS:      {[]string{http.MethodGet}, p.jwks},
		PathIDPs:      {[]string{http.MethodGet}, p.idpDiscovery},
		PathAuthorize: {[]string{http.MethodGet, http.MethodPost}, p.authorize},
		PathCallback:  {[]string{http.MethodGet, http.MethodPost}, p.callback},
		PathLogin:     {[]string{http.MethodGet, http.MethodPost}, p.loginForm},
		PathChooseIDP: {[]string{http.MethodGet}, p.chooser},
		PathToken:     {[]string{http.MethodPost}, p.token},
		PathRevoke:    {[]string{http.MethodPost}, p.revoke},

		PathDeviceAuthorization: {[]string{http.MethodPost}, p.deviceAuthorization},
		PathDevice:              {[]string{http.MethodGet, http.MethodPost}, p.device},
	}
	rt, ok := routes[rest]
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch rest {
	case PathDiscovery, PathJWKS, PathIDPs: // public documents, no input
	case PathToken, PathRevoke, PathDeviceAuthorization:
		if !p.allowRequest(w, r, false) {
			return
		}
	default:
		if !p.allowRequest(w, r, true) {
			return
		}
	}
	for _, m := range rt.methods {
		if r.Method == m {
			rt.handle(w, r)
			return
		}
	}
	w.Header().Set("Allow", strings.Join(rt.methods, ", "))
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
}

// idp returns the domain's identity provider named displayName.
func (p *Provider) idp(displayName string) (*IdP, bool) {
	for i := range p.cfg.IdPs {
		if p.cfg.IdPs[i].DisplayName == displayName {
			return &p.cfg.IdPs[i], true
		}
	}
	return nil, false
}

func (p *Provider) endpoint(path string) string { return p.cfg.Issuer + path }
