// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/selkie-dev/selkie/pkg/servermetrics"
	"github.com/selkie-dev/selkie/pkg/supervisor/pages"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// csrfCookie binds the upstream state to the browser that started the login.
const csrfCookie = "__Host-selkie-csrf"

// Purposes of sealed values, so that one can never stand in for the other.
const (
	purposeState = "upstream-state"
	purposeCSRF  = "csrf"
	// purposeDeviceForm binds the /device form to the browser's CSRF value.
	purposeDeviceForm = "device-form"
)

// upstreamState is sealed into the state parameter sent to the upstream.
type upstreamState struct {
	Request      authRequest `json:"request"`
	Nonce        string      `json:"nonce"`
	PKCEVerifier string      `json:"pkceVerifier"`
	CSRF         string      `json:"csrf"`
}

// redirectToUpstream starts a browser login at a redirect-based upstream, or at the
// login form for an upstream that checks passwords itself.
func (p *Provider) redirectToUpstream(w http.ResponseWriter, r *http.Request, req *authRequest, idp *IdP) {
	ctx := r.Context()
	if usesLoginForm(idp) {
		p.redirectToLoginForm(w, r, req)
		return
	}
	rp, ok := idp.Provider.(upstream.RedirectIdentityProvider)
	if !ok || !slices.Contains(idp.Provider.Flows(), upstream.FlowBrowserAuthcode) {
		p.redirectError(w, r, req, newError(errAccessDenied, "This identity provider does not support browser logins."))
		return
	}
	now := p.cfg.Clock()
	csrf, err := p.setCSRFCookie(w, r)
	if err != nil {
		p.redirectError(w, r, req, newError(errServerError, "could not start the login"))
		return
	}
	st := upstreamState{Request: *req}
	if st.Nonce, err = randomString(p.cfg.Rand, 32); err == nil {
		st.PKCEVerifier, err = randomString(p.cfg.Rand, 32)
	}
	st.CSRF = csrf
	var state string
	if err == nil {
		state, err = p.state.encode(purposeState, st, now.Add(p.cfg.Lifetimes.State))
	}
	if err != nil {
		p.log.ErrorContext(ctx, "could not seal the upstream state", "error", err)
		p.redirectError(w, r, req, newError(errServerError, "could not start the login"))
		return
	}
	target := rp.AuthorizeURL(upstream.AuthorizeRequest{RedirectURI: p.endpoint(PathCallback), State: state,
		Nonce: st.Nonce, CodeChallenge: s256(st.PKCEVerifier)})
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// setCSRFCookie returns the browser's CSRF value, a new one if it has none, and (re)sets
// the cookie that carries it sealed.
func (p *Provider) setCSRFCookie(w http.ResponseWriter, r *http.Request) (string, error) {
	csrf := p.csrfFromCookie(r)
	if csrf == "" {
		var err error
		if csrf, err = randomString(p.cfg.Rand, 32); err != nil {
			return "", err
		}
	}
	cookie, err := p.state.encode(purposeCSRF, csrf, p.cfg.Clock().Add(p.cfg.Lifetimes.CSRF))
	if err != nil {
		return "", err
	}
	// The cookie lives as long as the browser session; its sealed value expires after
	// the CSRF lifetime.
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: cookie, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode}) //nolint:gosec // G124: SameSite=None is the contract's (docs/wire-contract.md §2.4); the cookie is Secure and HttpOnly.
	return csrf, nil
}

func (p *Provider) csrfFromCookie(r *http.Request) string {
	c, err := r.Cookie(csrfCookie)
	if err != nil {
		return ""
	}
	var csrf string
	if p.state.decode(purposeCSRF, c.Value, p.cfg.Clock(), &csrf) != nil {
		return ""
	}
	return csrf
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// callback is where redirect-based upstreams send the browser back (docs/wire-contract.md §2.5).
func (p *Provider) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Bad Request: the request could not be parsed", http.StatusBadRequest)
		return
	}
	encoded := r.Form.Get("state")
	if encoded == "" {
		http.Error(w, "Bad Request: state param not found", http.StatusBadRequest)
		return
	}
	if _, err := r.Cookie(csrfCookie); err != nil {
		http.Error(w, "Forbidden: CSRF cookie is missing", http.StatusForbidden)
		return
	}
	var st upstreamState
	switch err := p.state.decode(purposeState, encoded, p.cfg.Clock(), &st); {
	case errors.Is(err, errStateVersion):
		http.Error(w, "Unprocessable Entity: state format version is invalid", http.StatusUnprocessableEntity)
		return
	case err != nil:
		http.Error(w, "Bad Request: error reading state", http.StatusBadRequest)
		return
	}
	if csrf := p.csrfFromCookie(r); csrf == "" || csrf != st.CSRF {
		http.Error(w, "Forbidden: CSRF value does not match", http.StatusForbidden)
		return
	}
	req := &st.Request
	idp, ok := p.idp(req.IDPName)
	rp, isRedirect := (upstream.RedirectIdentityProvider)(nil), false
	if ok {
		rp, isRedirect = idp.Provider.(upstream.RedirectIdentityProvider)
	}
	if !isRedirect {
		http.Error(w, "Unprocessable Entity: upstream provider not found", http.StatusUnprocessableEntity)
		return
	}
	if upErr := r.Form.Get("error"); upErr != "" {
		p.countLogin(idp, upstream.FlowBrowserAuthcode, servermetrics.LoginFailure)
		p.audit(ctx, "login failed", "idp", idp.DisplayName, "flow", upstream.FlowBrowserAuthcode, "reason", "upstream error "+upErr)
		p.redirectError(w, r, req, newError(errAccessDenied, "The identity provider refused the login."))
		return
	}
	code := r.Form.Get("code")
	if code == "" {
		http.Error(w, "Bad Request: code param not found", http.StatusBadRequest)
		return
	}
	start := time.Now()
	id, err := rp.ExchangeCode(ctx, code, st.PKCEVerifier, st.Nonce, p.endpoint(PathCallback))
	servermetrics.ObserveUpstream(idp.Provider.Name(), idp.Provider.Type(), servermetrics.UpstreamCodeExchange, start, err)
	if err != nil {
		p.countLogin(idp, upstream.FlowBrowserAuthcode, servermetrics.LoginFailure)
		p.audit(ctx, "login failed", "idp", idp.DisplayName, "flow", upstream.FlowBrowserAuthcode, "reason", err.Error())
		p.redirectError(w, r, req, newError(errAccessDenied, "The login at the identity provider could not be completed."))
		return
	}
	p.complete(w, r, req, idp, id, upstream.FlowBrowserAuthcode)
}

// chooser lists the identity providers, each linking back to authorize with its name.
func (p *Provider) chooser(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for _, required := range []string{"client_id", "redirect_uri", "scope", "response_type"} {
		if q.Get(required) == "" {
			http.Error(w, "Bad Request: missing required query parameter "+required, http.StatusBadRequest)
			return
		}
	}
	q.Del(paramIDPName)
	q.Del(paramIDPType)
	var choices []pages.Choice
	for _, e := range p.IDPDiscoveryDocument().IdentityProviders {
		choices = append(choices, pages.Choice{Name: e.Name,
			URL: p.endpoint(PathAuthorize) + "?" + q.Encode() + "&" + url.Values{paramIDPName: {e.Name}}.Encode()})
	}
	pages.Chooser(w, choices)
}

func formPost(w http.ResponseWriter, redirectURI, encodedParams, code string) {
	pages.FormPost(w, redirectURI, encodedParams, code)
}
