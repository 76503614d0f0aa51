// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apiserver/pkg/authentication/user"
)

// OriginalUserInfoKey is the reserved user extra (docs/wire-contract.md §0.2) that carries, as JSON
// of an authentication.k8s.io/v1 UserInfo, who really sent a request that used nested
// impersonation.
const OriginalUserInfoKey = "original-user-info.impersonation-proxy.concierge.pinniped.dev"

// reservedExtraSuffix is the domain of extra keys only the proxy may set.
const reservedExtraSuffix = ".impersonation-proxy.concierge."

// errCannotActAs marks the requests the proxy cannot forward as their user: the client
// is told only "unimplemented functionality - unable to act as current user".
var errCannotActAs = errors.New("cannot act as the current user")

const cannotActAsMessage = "unimplemented functionality - unable to act as current user"

// upstreamExtra checks the acting user's extras and, for nested impersonation, adds the
// authenticated requester under OriginalUserInfoKey.
func (p *Proxy) upstreamExtra(acting user.Info, state *requestState) (map[string][]string, error) {
	for k := range acting.GetExtra() {
		if !validExtraKey(k) {
			return nil, fmt.Errorf("%w: extra key %q is not lower-case letters, digits and /-._", errCannotActAs, k)
		}
		if p.reservedExtraKey(k) {
			return nil, fmt.Errorf("%w: extra key %q is reserved for the impersonation proxy", errCannotActAs, k)
		}
	}
	if !state.nested {
		return acting.GetExtra(), nil
	}
	requester, err := json.Marshal(userInfoV1(state.requester))
	if err != nil {
		return nil, fmt.Errorf("encode the original user: %w", err)
	}
	extra := make(map[string][]string, len(acting.GetExtra())+1)
	maps.Copy(extra, acting.GetExtra())
	extra[OriginalUserInfoKey] = []string{string(requester)}
	return extra, nil
}

// validExtraKey allows what survives the trip through Impersonate-Extra-* headers
// unchanged: ^[a-z0-9/\-._]+$ (header names lose their case, and escaping is lossy).
func validExtraKey(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range []byte(k) {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '/' || c == '-' || c == '.' || c == '_'
		if !ok {
			return false
		}
	}
	return true
}

// reservedExtraKey matches keys in the reference's and this install's reserved domain.
func (p *Proxy) reservedExtraKey(k string) bool {
	return strings.HasSuffix(k, reservedExtraSuffix+"pinniped.dev") ||
		strings.HasSuffix(k, reservedExtraSuffix+p.cfg.APIGroupSuffix)
}

func userInfoV1(u user.Info) authenticationv1.UserInfo {
	info := authenticationv1.UserInfo{Username: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups()}
	if extra := u.GetExtra(); len(extra) > 0 {
		info.Extra = make(map[string]authenticationv1.ExtraValue, len(extra))
		for k, v := range extra {
			info.Extra[k] = v
		}
	}
	return info
}

// sameUser compares two identities field by field; nil and empty are equal.
func sameUser(a, b user.Info) bool {
	return a.GetName() == b.GetName() && a.GetUID() == b.GetUID() &&
		slices.Equal(a.GetGroups(), b.GetGroups()) &&
		maps.EqualFunc(a.GetExtra(), b.GetExtra(), slices.Equal[[]string])
}

// impersonationHeader returns the first header whose name starts with "Impersonate", or "".
func impersonationHeader(h http.Header) string {
	for k := range h {
		if isImpersonationHeader(k) {
			return k
		}
	}
	return ""
}

// isImpersonationHeader matches Impersonate-User, -Group, -Uid, -Extra-* and any other
// name starting with "Impersonate", in any case.
func isImpersonationHeader(name string) bool {
	return strings.HasPrefix(http.CanonicalHeaderKey(name), "Impersonate")
}
