// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/selkie-dev/selkie/pkg/servermetrics"
	"github.com/selkie-dev/selkie/pkg/supervisor/pages"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// purposeLoginState seals the state of a login at the supervisor's own form, so that
// it can never stand in for the state sent to a redirect-based upstream.
const purposeLoginState = "login-form-state"

// usesLoginForm reports whether browsers log in through idp at the supervisor's
// username and password form: an upstream that checks passwords itself (LDAP, AD)
// rather than one the browser is sent to.
func usesLoginForm(idp *IdP) bool {
	_, isRedirect := idp.Provider.(upstream.RedirectIdentityProvider)
	_, isPassword := idp.Provider.(upstream.PasswordIdentityProvider)
	return !isRedirect && isPassword && slices.Contains(idp.Provider.Flows(), upstream.FlowBrowserAuthcode)
}

// supportsBrowser reports whether a browser can log in through idp at all.
func supportsBrowser(idp *IdP) bool {
	_, isRedirect := idp.Provider.(upstream.RedirectIdentityProvider)
	return usesLoginForm(idp) || isRedirect && slices.Contains(idp.Provider.Flows(), upstream.FlowBrowserAuthcode)
}

// redirectToLoginForm starts a browser login at the login form (docs/wire-contract.md §2.4):
// a 303 to <issuer>/login?state=<sealed state>, with the same CSRF cookie as a
// redirect to an upstream.
func (p *Provider) redirectToLoginForm(w http.ResponseWriter, r *http.Request, req *authRequest) {
	csrf, err := p.setCSRFCookie(w, r)
	var state string
	if err == nil {
		state, err = p.state.encode(purposeLoginState, upstreamState{Request: *req, CSRF: csrf}, p.cfg.Clock().Add(p.cfg.Lifetimes.State))
	}
	if err != nil {
		p.log.ErrorContext(r.Context(), "could not seal the login state", "error", err)
		p.redirectError(w, r, req, newError(errServerError, "could not start the login"))
		return
	}
	http.Redirect(w, r, p.endpoint(PathLogin)+"?"+url.Values{"state": {state}}.Encode(), http.StatusSeeOther)
}

// loginForm handles GET /login (the form) and POST /login (its submission) (wire
// contract §2.5). Both need the state and the CSRF cookie of the browser that started
// the login. A refused username or password, or an upstream failure, sends the browser
// back to the form with `err`; a successful login completes like an upstream callback.
func (p *Provider) loginForm(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Bad Request: the request could not be parsed", http.StatusBadRequest)
		return
	}
	encoded := r.Form.Get("state")
	st, idp, ok := p.loginState(w, r, encoded)
	if !ok {
		return
	}
	pw, _ := idp.Provider.(upstream.PasswordIdentityProvider)
	if r.Method == http.MethodGet {
		pages.Password(w, pages.PasswordForm{Action: p.path + PathLogin, State: encoded, IDPName: idp.DisplayName, Err: r.Form.Get("err")})
		return
	}
	username, password := r.PostForm.Get("username"), r.PostForm.Get("password")
	if strings.TrimSpace(username) == "" || password == "" {
		p.backToLoginForm(w, r, encoded, pages.ErrIncorrectUsernameOrPassword)
		return
	}
	if !p.allowPassword(w, r, idp.DisplayName, username, true) {
		return
	}
	start := time.Now()
	id, err := pw.Login(ctx, username, password)
	servermetrics.ObserveUpstream(idp.Provider.Name(), idp.Provider.Type(), servermetrics.UpstreamPasswordLogin, start, err)
	if err != nil {
		p.countLogin(idp, upstream.FlowBrowserAuthcode, loginFailure(err))
		p.audit(ctx, "login failed", "idp", idp.DisplayName, "flow", upstream.FlowBrowserAuthcode, "reason", err.Error())
		code := pages.ErrIncorrectUsernameOrPassword
		if !errors.Is(err, upstream.ErrBadCredentials) {
			code = pages.ErrInternal
		} else {
			p.passwordFailed(r, idp.DisplayName, username)
		}
		p.backToLoginForm(w, r, encoded, code)
		return
	}
	p.complete(w, r, &st.Request, idp, id, upstream.FlowBrowserAuthcode)
}

// loginState opens the state of a login form request and checks it against the CSRF
// cookie; on failure it has answered the request.
func (p *Provider) loginState(w http.ResponseWriter, r *http.Request, encoded string) (*upstreamState, *IdP, bool) {
	if encoded == "" {
		http.Error(w, "Bad Request: state param not found", http.StatusBadRequest)
		return nil, nil, false
	}
	if _, err := r.Cookie(csrfCookie); err != nil {
		http.Error(w, "Forbidden: CSRF cookie is missing", http.StatusForbidden)
		return nil, nil, false
	}
	var st upstreamState
	switch err := p.state.decode(purposeLoginState, encoded, p.cfg.Clock(), &st); {
	case errors.Is(err, errStateVersion):
		http.Error(w, "Unprocessable Entity: state format version is invalid", http.StatusUnprocessableEntity)
		return nil, nil, false
	case err != nil:
		http.Error(w, "Bad Request: error reading state", http.StatusBadRequest)
		return nil, nil, false
	}
	if csrf := p.csrfFromCookie(r); csrf == "" || csrf != st.CSRF {
		http.Error(w, "Forbidden: CSRF value does not match", http.StatusForbidden)
		return nil, nil, false
	}
	idp, ok := p.idp(st.Request.IDPName)
	if !ok || !usesLoginForm(idp) {
		http.Error(w, "Unprocessable Entity: upstream provider not found", http.StatusUnprocessableEntity)
		return nil, nil, false
	}
	return &st, idp, true
}

// backToLoginForm sends the browser back to the form with an alert (docs/wire-contract.md §2.5).
func (p *Provider) backToLoginForm(w http.ResponseWriter, r *http.Request, state, errCode string) {
	http.Redirect(w, r, p.endpoint(PathLogin)+"?"+url.Values{"err": {errCode}, "state": {state}}.Encode(), http.StatusSeeOther)
}
