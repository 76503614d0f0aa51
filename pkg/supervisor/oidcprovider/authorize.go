// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/selkie-dev/selkie/pkg/servermetrics"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
)

// CLI password flow headers and IdP selection parameters (docs/wire-contract.md §0.2).
const (
	headerUsername = "Pinniped-Username"
	headerPassword = "Pinniped-Password"
	paramIDPName   = "pinniped_idp_name"
	paramIDPType   = "pinniped_idp_type"
)

// authRequest is a validated authorization request; it travels in the upstream state.
type authRequest struct {
	ClientID      string   `json:"clientID"`
	RedirectURI   string   `json:"redirectURI"`
	State         string   `json:"state"`
	Nonce         string   `json:"nonce,omitempty"`
	CodeChallenge string   `json:"codeChallenge"`
	ResponseMode  string   `json:"responseMode,omitempty"`
	Granted       []string `json:"granted"`
	IDPName       string   `json:"idpName"`
	// DeviceSessionID, for a device login, names the session of the device
	// authorization; the login ends on a page instead of at a redirect URI.
	DeviceSessionID string `json:"deviceSessionID,omitempty"`
	// passwordFlow answers with 302 (the CLI does not follow 303) and never form_post.
	passwordFlow bool
}

// authorize handles GET and POST /oauth2/authorize (docs/wire-contract.md §2.4).
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		newError(errInvalidRequest, "the request could not be parsed").write(w)
		return
	}
	form := r.Form
	for name, values := range form {
		if len(values) > 1 || len(values[0]) > maxParamLength {
			newError(errInvalidRequest, fmt.Sprintf("parameter %q is repeated or too long", name)).write(w)
			return
		}
	}
	client, err := p.client(r.Context(), form.Get("client_id"))
	if err != nil {
		p.log.InfoContext(r.Context(), "authorize: unknown client", "error", err)
		newError(errInvalidClient, "client_id is not a known client").write(w)
		return
	}
	if !client.allowsRedirect(form.Get("redirect_uri")) {
		newError(errInvalidRequest, "redirect_uri is not registered for this client").write(w)
		return
	}
	_, hasUser := r.Header[headerUsername]
	_, hasPass := r.Header[headerPassword]
	req := &authRequest{ClientID: client.ID, RedirectURI: form.Get("redirect_uri"), State: form.Get("state"),
		Nonce: form.Get("nonce"), CodeChallenge: form.Get("code_challenge"), ResponseMode: form.Get("response_mode"),
		IDPName: form.Get(paramIDPName), passwordFlow: hasUser || hasPass}
	if oerr := p.validateAuthorize(client, req, form); oerr != nil {
		p.redirectError(w, r, req, oerr)
		return
	}
	idp, oerr := p.selectIdP(req)
	if oerr != nil {
		p.redirectError(w, r, req, oerr)
		return
	}
	if idp == nil { // a browser without a choice: let the user pick
		http.Redirect(w, r, p.endpoint(PathChooseIDP)+"?"+r.Form.Encode(), http.StatusSeeOther) //nolint:gosec // G710: a redirect to this issuer's own chooser page.
		return
	}
	if req.passwordFlow {
		p.passwordLogin(w, r, client, req, idp)
		return
	}
	p.redirectToUpstream(w, r, req, idp)
}

// validateAuthorize checks everything but the client and the redirect URI, which are
// checked first because errors can only be redirected to a registered URI.
func (p *Provider) validateAuthorize(client *Client, req *authRequest, form url.Values) *oauthError {
	if form.Get("response_type") != "code" {
		return newError(errUnsupportedResponseType, "response_type must be code")
	}
	granted, refused := client.grantScopes(strings.Fields(form.Get("scope")))
	if refused != "" {
		return newError(errInvalidScope, fmt.Sprintf("the scope %q is not allowed for this client", refused))
	}
	req.Granted = granted
	switch {
	case len(req.State) < 8:
		return newError(errInvalidRequest, "state must be at least 8 characters")
	case form.Has("nonce") && len(req.Nonce) < 8:
		return newError(errInvalidRequest, "nonce must be at least 8 characters")
	case form.Get("code_challenge_method") != "S256" || !validPKCE(req.CodeChallenge):
		// PKCE is required of every client, confidential ones too: it is what binds the
		// code to the client instance that asked for it.
		return newError(errInvalidRequest, "PKCE with code_challenge_method S256 is required")
	case req.ResponseMode != "" && req.ResponseMode != "query" && req.ResponseMode != "form_post":
		return newError(errInvalidRequest, "response_mode must be query or form_post")
	case req.passwordFlow && req.ResponseMode == "form_post":
		return newError(errInvalidRequest, "form_post is not available with username and password headers")
	case form.Get("prompt") == "none" && slices.Contains(strings.Fields(form.Get("scope")), ScopeOpenID):
		return newError(errLoginRequired, "the user must log in")
	}
	return nil
}

// validPKCE accepts a base64url SHA-256 digest: 43 characters.
func validPKCE(challenge string) bool {
	if len(challenge) != 43 {
		return false
	}
	for _, c := range challenge {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// selectIdP returns the IdP named by pinniped_idp_name, the single one in legacy mode, or
// nil when a browser must choose.
func (p *Provider) selectIdP(req *authRequest) (*IdP, *oauthError) {
	if req.IDPName != "" {
		idp, ok := p.idp(req.IDPName)
		if !ok {
			return nil, newError(errInvalidRequest, fmt.Sprintf(`%q param error: no identity provider named %q in this FederationDomain`, paramIDPName, req.IDPName))
		}
		return idp, nil
	}
	switch {
	case p.cfg.Legacy && len(p.cfg.IdPs) == 1:
		req.IDPName = p.cfg.IdPs[0].DisplayName
		return &p.cfg.IdPs[0], nil
	case len(p.cfg.IdPs) == 0:
		return nil, newError(errAccessDenied, "no identity provider is configured for this FederationDomain")
	case req.passwordFlow:
		return nil, newError(errInvalidRequest, fmt.Sprintf("%q param error: an identity provider must be named", paramIDPName))
	}
	return nil, nil
}

// passwordLogin is the CLI password flow: the answer is always a 302 to the redirect URI.
func (p *Provider) passwordLogin(w http.ResponseWriter, r *http.Request, client *Client, req *authRequest, idp *IdP) {
	ctx := r.Context()
	if client.ID != CLIClientID {
		p.redirectError(w, r, req, newError(errAccessDenied, "This client is not allowed to submit username or password headers to this endpoint."))
		return
	}
	username, password := r.Header.Get(headerUsername), r.Header.Get(headerPassword)
	if strings.TrimSpace(username) == "" || password == "" {
		p.redirectError(w, r, req, newError(errAccessDenied, "Missing or blank username or password."))
		return
	}
	pw, ok := idp.Provider.(upstream.PasswordIdentityProvider)
	if !ok || !slices.Contains(idp.Provider.Flows(), upstream.FlowCLIPassword) {
		p.redirectError(w, r, req, newError(errAccessDenied, "This identity provider does not allow logins with a username and password from the CLI."))
		return
	}
	if !p.allowPassword(w, r, idp.DisplayName, username, false) {
		return
	}
	start := time.Now()
	id, err := pw.Login(ctx, username, password)
	servermetrics.ObserveUpstream(idp.Provider.Name(), idp.Provider.Type(), servermetrics.UpstreamPasswordLogin, start, err)
	if err != nil {
		p.countLogin(idp, upstream.FlowCLIPassword, loginFailure(err))
		desc := "Username or password is incorrect, or the user is not allowed to log in."
		if !errors.Is(err, upstream.ErrBadCredentials) {
			desc = "The identity provider could not check the username and password."
		} else {
			p.passwordFailed(r, idp.DisplayName, username)
		}
		p.audit(ctx, "login failed", "idp", idp.DisplayName, "flow", upstream.FlowCLIPassword, "reason", err.Error())
		p.redirectError(w, r, req, newError(errAccessDenied, desc))
		return
	}
	p.complete(w, r, req, idp, id, upstream.FlowCLIPassword)
}

// redirectError sends an OAuth error to the (validated) redirect URI; a device login
// has none: its grant is denied and the browser shows why.
func (p *Provider) redirectError(w http.ResponseWriter, r *http.Request, req *authRequest, e *oauthError) {
	if req.DeviceSessionID != "" {
		p.denyDevice(w, r, req, e)
		return
	}
	params := url.Values{"error": {e.Code}, "error_description": {e.Description}}
	if req.State != "" {
		params.Set("state", req.State)
	}
	p.respond(w, r, req, params, "")
}

// respond delivers params to the client: a redirect (302 for the CLI password flow, 303
// for browsers) or the form_post page.
func (p *Provider) respond(w http.ResponseWriter, r *http.Request, req *authRequest, params url.Values, code string) {
	if req.ResponseMode == "form_post" && !req.passwordFlow {
		formPost(w, req.RedirectURI, params.Encode(), code)
		return
	}
	status := http.StatusSeeOther
	if req.passwordFlow {
		status = http.StatusFound
	}
	http.Redirect(w, r, withParams(req.RedirectURI, params), status)
}
