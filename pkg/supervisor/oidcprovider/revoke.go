// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
)

// revoke handles POST /oauth2/revoke (RFC 7009, a Selkie extension): a refresh token
// ends its whole session (and, best effort, the upstream tokens); an access token stops
// working. Unknown tokens get the same 200, so the endpoint reveals nothing.
func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	form, oerr := parseTokenForm(r)
	if oerr != nil {
		oerr.write(w)
		return
	}
	client, oerr := p.authenticateClient(r, form)
	if oerr != nil {
		oerr.write(w)
		return
	}
	token := form.Get("token")
	if token == "" {
		newError(errInvalidRequest, "token is required").write(w)
		return
	}
	prefix := prefixAccess
	if strings.HasPrefix(token, prefixRefresh) {
		prefix = prefixRefresh
	}
	s, secret, oerr := p.sessionForToken(ctx, prefix, token, errInvalidRequest)
	switch {
	case oerr != nil && oerr.Code == errServerError:
		oerr.write(w)
		return
	case oerr != nil || s.ClientID != client.ID:
		w.WriteHeader(http.StatusOK)
		return
	}
	if prefix == prefixRefresh {
		if s.RefreshToken != nil && p.tokens.matches(secret, s.RefreshToken.Hash) {
			p.endSession(ctx, s, "refresh token revoked by the client")
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	i := slices.IndexFunc(s.AccessTokens, func(t sessionstore.Token) bool { return p.tokens.matches(secret, t.Hash) })
	if i >= 0 {
		s.AccessTokens = slices.Delete(s.AccessTokens, i, i+1)
		if err := p.cfg.Store.Update(ctx, s); err != nil && !errors.Is(err, sessionstore.ErrNotFound) {
			p.storeError(ctx, w, err)
			return
		}
		p.audit(ctx, "access token revoked by the client", "session", s.ID)
	}
	w.WriteHeader(http.StatusOK)
}
