// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
)

// Device logins (RFC 8628, a Selkie extension: docs/wire-contract.md §5). The CLI asks for a
// device code and a user code, the user enters the user code at <issuer>/device and logs
// in at the upstream in any browser, and the CLI polls the token endpoint meanwhile.
const (
	// deviceCodeLifetime is how long the user has to approve: expires_in.
	deviceCodeLifetime = 10 * time.Minute
	// devicePollInterval is the minimum time between polls (interval); slow_down adds
	// devicePollSlowDown to it.
	devicePollInterval = 5 * time.Second
	devicePollSlowDown = 5 * time.Second
	// deviceSessionGrace keeps a device session past its grant's expiry, so that a late
	// poll learns expired_token rather than invalid_grant.
	deviceSessionGrace = 10 * time.Minute
	// userCodeAlphabet has no vowels (no words) and nothing that looks like a digit or
	// another letter (RFC 8628 §6.1); 8 characters are about 34.6 bits.
	userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	userCodeLength   = 8
	// userCodeAttempts bounds retries when a new user code collides with a live one.
	userCodeAttempts = 5
)

// deviceAuthorizationResponse is the answer of RFC 8628 §3.2.
type deviceAuthorizationResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// deviceAuthorization handles POST /oauth2/device_authorization: the CLI client names
// the scopes and the IdP, and gets a device code to poll with and a user code to show.
func (p *Provider) deviceAuthorization(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form, oerr := parseTokenForm(r)
	if oerr != nil {
		oerr.write(w)
		return
	}
	client, oerr := p.authenticateClient(r, form)
	if oerr != nil {
		p.audit(ctx, "device authorization refused", "error", oerr.Code, "reason", oerr.Description)
		oerr.write(w)
		return
	}
	// Only the CLI: a device login has no redirect URI to bind the client to, and the
	// user confirms the code on a page that names no client.
	if client.ID != CLIClientID || !client.allowsGrant(GrantDeviceCode) {
		newError(errUnauthorizedClient, "the client is not allowed to use the device authorization grant").write(w)
		return
	}
	granted, refused := client.grantScopes(strings.Fields(form.Get("scope")))
	if refused != "" {
		newError(errInvalidScope, fmt.Sprintf("the scope %q is not allowed for this client", refused)).write(w)
		return
	}
	idp, oerr := p.deviceIdP(form.Get(paramIDPName))
	if oerr != nil {
		oerr.write(w)
		return
	}
	// Each device login stores a session before anyone has logged in: limit them per
	// client address, and in total.
	l := p.cfg.Limits
	if ok, wait := l.deviceAuthorizations.Allow(l.clientAddress(r)); p.limited(w, r, "device-authorizations", ok, wait, false) {
		return
	}
	if !l.pending.add(p.cfg.Clock().Add(deviceCodeLifetime + deviceSessionGrace)) {
		p.limited(w, r, "pending-device-logins", false, time.Minute, false)
		return
	}
	resp, err := p.startDeviceGrant(ctx, client, granted, idp)
	if err != nil {
		p.storeError(ctx, w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// deviceIdP is the IdP a device login uses: the named one, or the single one in legacy
// mode. It must offer browser logins, at a redirect-based upstream or at the login form.
func (p *Provider) deviceIdP(name string) (*IdP, *oauthError) {
	var idp *IdP
	switch {
	case name != "":
		found, ok := p.idp(name)
		if !ok {
			return nil, newError(errInvalidRequest, fmt.Sprintf(`%q param error: no identity provider named %q in this FederationDomain`, paramIDPName, name))
		}
		idp = found
	case p.cfg.Legacy && len(p.cfg.IdPs) == 1:
		idp = &p.cfg.IdPs[0]
	default:
		return nil, newError(errInvalidRequest, fmt.Sprintf("%q param error: an identity provider must be named", paramIDPName))
	}
	if !supportsBrowser(idp) {
		return nil, newError(errInvalidRequest, fmt.Sprintf("the identity provider %q does not support browser logins, which device logins need", idp.DisplayName))
	}
	return idp, nil
}

// startDeviceGrant stores a pending device session. Its ID derives from the user code,
// so that /device finds it with a Get on any replica, without an index.
func (p *Provider) startDeviceGrant(ctx context.Context, client *Client, granted []string, idp *IdP) (*deviceAuthorizationResponse, error) {
	now := p.cfg.Clock()
	for range userCodeAttempts {
		userCode, err := newUserCode(p.cfg.Rand)
		if err != nil {
			return nil, err
		}
		sid := p.deviceSessionID(userCode)
		deviceCode, hash, err := p.tokens.mint(prefixDeviceCode, sid)
		if err != nil {
			return nil, err
		}
		expires := now.Add(deviceCodeLifetime)
		// Until the user logs in, AuthTime is when the login started (the admin API shows
		// it as the creation time) and there is no identity.
		s := &sessionstore.Session{
			ID: sid, Issuer: p.cfg.Issuer, ClientID: client.ID, GrantedScopes: granted, AuthTime: now, Expires: expires.Add(deviceSessionGrace),
			IdP: sessionstore.IdP{DisplayName: idp.DisplayName, Type: idp.Provider.Type(), Kind: kindOf(idp.Provider),
				Name: idp.Provider.Name(), UID: idp.Provider.UID()},
			DeviceGrant: &sessionstore.DeviceGrant{Status: sessionstore.DeviceGrantPending, CodeHash: hash, Expires: expires, Interval: devicePollInterval},
		}
		err = p.cfg.Store.Create(ctx, s)
		if errors.Is(err, sessionstore.ErrAlreadyExists) {
			continue // the user code of a live session: draw another
		}
		if err != nil {
			return nil, err
		}
		p.audit(ctx, "device authorization started", "session", sid, "client", client.ID, "idp", idp.DisplayName)
		shown := formatUserCode(userCode)
		return &deviceAuthorizationResponse{DeviceCode: deviceCode, UserCode: shown,
			VerificationURI:         p.endpoint(PathDevice),
			VerificationURIComplete: p.endpoint(PathDevice) + "?" + url.Values{"user_code": {shown}}.Encode(),
			ExpiresIn:               int64(deviceCodeLifetime / time.Second), Interval: int64(devicePollInterval / time.Second)}, nil
	}
	return nil, errors.New("no free user code")
}

// deviceSessionID is the session ID of a normalised user code: the first 26 lower-case
// base32 characters of its HMAC-SHA256 under the token key. Without the key a user code
// cannot be linked to its session (whose ID appears in every token of the login).
func (p *Provider) deviceSessionID(userCode string) string {
	mac := hmac.New(sha256.New, p.cfg.TokenKey)
	mac.Write([]byte("device user code\x00"))
	mac.Write([]byte(userCode))
	return strings.ToLower(sessionIDEncoding.EncodeToString(mac.Sum(nil)[:16]))
}

// newUserCode draws userCodeLength characters of userCodeAlphabet uniformly.
func newUserCode(random io.Reader) (string, error) {
	const usable = 256 / len(userCodeAlphabet) * len(userCodeAlphabet) // rejection sampling: no bias
	code := make([]byte, 0, userCodeLength)
	buf := make([]byte, 2*userCodeLength)
	for len(code) < userCodeLength {
		if _, err := io.ReadFull(random, buf); err != nil {
			return "", fmt.Errorf("generate user code: %w", err)
		}
		for _, b := range buf {
			if int(b) < usable && len(code) < userCodeLength {
				code = append(code, userCodeAlphabet[int(b)%len(userCodeAlphabet)])
			}
		}
	}
	return string(code), nil
}

// normalizeUserCode reads what a user typed: case, dashes and spaces do not matter.
func normalizeUserCode(input string) (string, bool) {
	if len(input) > 4*userCodeLength {
		return "", false
	}
	code := strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToUpper(strings.TrimSpace(input)))
	if len(code) != userCodeLength {
		return "", false
	}
	for i := range len(code) {
		if strings.IndexByte(userCodeAlphabet, code[i]) < 0 {
			return "", false
		}
	}
	return code, true
}

// formatUserCode shows a user code as XXXX-XXXX.
func formatUserCode(code string) string {
	return code[:userCodeLength/2] + "-" + code[userCodeLength/2:]
}
