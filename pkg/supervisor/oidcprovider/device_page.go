// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"context"
	"errors"
	"net/http"

	"github.com/selkie-dev/selkie/pkg/servermetrics"
	"github.com/selkie-dev/selkie/pkg/supervisor/pages"
	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// deviceCodeInvalid is all a user learns about a code that cannot be used: whether it
// never existed, expired or was used is not revealed.
const deviceCodeInvalid = "The code is invalid or expired. Check it, or start the login again in your terminal."

// device handles GET and POST /device: the form for the user code, and its submission,
// which starts the upstream browser login for the device's session.
func (p *Provider) device(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		prefill, _ := normalizeUserCode(r.URL.Query().Get("user_code"))
		if prefill != "" {
			prefill = formatUserCode(prefill)
		}
		p.deviceForm(w, r, http.StatusOK, prefill, "")
		return
	}
	p.deviceSubmit(w, r)
}

// deviceForm renders the user code form with a token bound to the browser's CSRF value.
func (p *Provider) deviceForm(w http.ResponseWriter, r *http.Request, status int, userCode, message string) {
	csrf, err := p.setCSRFCookie(w, r)
	var token string
	if err == nil {
		token, err = p.state.encode(purposeDeviceForm, csrf, p.cfg.Clock().Add(p.cfg.Lifetimes.State))
	}
	if err != nil {
		p.log.ErrorContext(r.Context(), "could not render the device form", "error", err)
		http.Error(w, "Internal Server Error: could not render the page", http.StatusInternalServerError)
		return
	}
	pages.Device(w, status, pages.DeviceForm{Action: p.endpoint(PathDevice), UserCode: userCode, Token: token, Error: message})
}

// deviceSubmit checks the submitted user code and sends the browser to the upstream.
// The form token stops other sites from submitting a code of their choosing in the
// user's browser, which would log the user in on the attacker's device.
func (p *Provider) deviceSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := p.cfg.Clock()
	if err := r.ParseForm(); err != nil {
		p.deviceForm(w, r, http.StatusBadRequest, "", "The form could not be read. Enter the code again.")
		return
	}
	var csrf string
	if err := p.state.decode(purposeDeviceForm, r.PostForm.Get("token"), now, &csrf); err != nil || csrf == "" || csrf != p.csrfFromCookie(r) {
		p.deviceForm(w, r, http.StatusForbidden, "", "This form expired or was not sent from this browser. Enter the code again.")
		return
	}
	// Wrong codes are counted per client address: user codes are short enough to guess
	// at with enough attempts.
	l := p.cfg.Limits
	addr := l.clientAddress(r)
	if ok, wait := l.userCodeFailures.Check(addr); p.limited(w, r, "user-code-failures", ok, wait, true) {
		return
	}
	code, ok := normalizeUserCode(r.PostForm.Get("user_code"))
	if !ok {
		l.userCodeFailures.Fail(addr)
		p.deviceForm(w, r, http.StatusBadRequest, "", deviceCodeInvalid)
		return
	}
	s, err := p.cfg.Store.Get(ctx, p.deviceSessionID(code))
	switch {
	case errors.Is(err, sessionstore.ErrNotFound):
		l.userCodeFailures.Fail(addr)
		p.audit(ctx, "device code refused", "reason", "unknown user code")
		p.deviceForm(w, r, http.StatusBadRequest, "", deviceCodeInvalid)
		return
	case err != nil:
		p.log.ErrorContext(ctx, "could not read a device session", "error", err)
		p.deviceForm(w, r, http.StatusInternalServerError, "", "The code could not be checked. Try again.")
		return
	}
	idp, found := p.idp(s.IdP.DisplayName)
	if g := s.DeviceGrant; s.Issuer != p.cfg.Issuer || g == nil || g.Status != sessionstore.DeviceGrantPending || !now.Before(g.Expires) ||
		!found || idp.Provider.UID() != s.IdP.UID {
		l.userCodeFailures.Fail(addr)
		p.audit(ctx, "device code refused", "session", s.ID, "reason", "not a pending device grant of this domain")
		p.deviceForm(w, r, http.StatusBadRequest, "", deviceCodeInvalid)
		return
	}
	p.audit(ctx, "device login started", "session", s.ID, "idp", idp.DisplayName)
	p.redirectToUpstream(w, r, &authRequest{ClientID: s.ClientID, Granted: s.GrantedScopes, IDPName: s.IdP.DisplayName, DeviceSessionID: s.ID}, idp)
}

// approveDevice completes a device login: the device's session gets the identity and
// its grant is approved, for the device's next poll to collect.
func (p *Provider) approveDevice(w http.ResponseWriter, r *http.Request, req *authRequest, idp *IdP, id *upstream.Identity, username string, groups []string, flow string) {
	ctx := r.Context()
	now := p.cfg.Clock()
	usable := true
	err := p.updateDevice(ctx, req.DeviceSessionID, func(s *sessionstore.Session) bool {
		g := s.DeviceGrant
		usable = g != nil && g.Status == sessionstore.DeviceGrantPending && now.Before(g.Expires) &&
			s.IdP.DisplayName == idp.DisplayName && s.IdP.UID == idp.Provider.UID()
		if usable {
			setIdentity(s, idp, id, username, groups, now)
			g.Status = sessionstore.DeviceGrantApproved
		}
		return usable
	})
	outcome := servermetrics.LoginError
	defer func() { p.countLogin(idp, flow, outcome) }()
	switch {
	case errors.Is(err, sessionstore.ErrNotFound) || err == nil && !usable:
		p.audit(ctx, "device login failed", "session", req.DeviceSessionID, "idp", idp.DisplayName, "reason", "the device grant expired or is no longer pending")
		pages.DeviceResult(w, http.StatusBadRequest, false, "the code expired before the login finished.")
	case err != nil:
		p.log.ErrorContext(ctx, "could not approve a device grant", "session", req.DeviceSessionID, "error", err)
		pages.DeviceResult(w, http.StatusInternalServerError, false, "the login could not be stored.")
	default:
		outcome = servermetrics.LoginSuccess
		p.audit(ctx, "login succeeded", "idp", idp.DisplayName, "session", req.DeviceSessionID, "client", req.ClientID,
			"flow", "device_code", p.userAttr(username, groups))
		pages.DeviceResult(w, http.StatusOK, true, "")
	}
}

// denyDevice ends a device login that failed: the grant is denied (the device's next
// poll gets access_denied) and the browser shows why.
func (p *Provider) denyDevice(w http.ResponseWriter, r *http.Request, req *authRequest, e *oauthError) {
	ctx := r.Context()
	err := p.updateDevice(ctx, req.DeviceSessionID, func(s *sessionstore.Session) bool {
		if s.DeviceGrant == nil || s.DeviceGrant.Status != sessionstore.DeviceGrantPending {
			return false
		}
		s.DeviceGrant.Status = sessionstore.DeviceGrantDenied
		return true
	})
	if err != nil && !errors.Is(err, sessionstore.ErrNotFound) {
		p.log.ErrorContext(ctx, "could not deny a device grant", "session", req.DeviceSessionID, "error", err)
	}
	p.audit(ctx, "device login denied", "session", req.DeviceSessionID, "idp", req.IDPName, "reason", e.Description)
	pages.DeviceResult(w, e.status, false, e.Description)
}

// maxDeviceUpdateAttempts bounds the read-modify-write retries of updateDevice: polls
// write the session every few seconds, so a conflict is expected now and then.
const maxDeviceUpdateAttempts = 5

// updateDevice applies change to the device session id of this domain and stores it,
// reading again on a conflict; change returns false to leave the session as it is.
func (p *Provider) updateDevice(ctx context.Context, id string, change func(*sessionstore.Session) bool) error {
	var err error
	for range maxDeviceUpdateAttempts {
		var s *sessionstore.Session
		if s, err = p.cfg.Store.Get(ctx, id); err != nil {
			return err
		}
		if s.Issuer != p.cfg.Issuer {
			return sessionstore.ErrNotFound
		}
		if !change(s) {
			return nil
		}
		if err = p.cfg.Store.Update(ctx, s); !errors.Is(err, sessionstore.ErrConflict) {
			return err
		}
	}
	return err
}
