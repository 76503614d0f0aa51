// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"bytes"
	"crypto/sha256"
	"net/http"
	"slices"
	"time"

	utilcache "k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
)

// Verified client certificate chains are remembered this long at most, and never past
// the expiry of a presented certificate.
const (
	certCacheTTL  = time.Minute
	certCacheSize = 4096
)

// cachedCertAuthenticator remembers which presented certificate chains one CA has
// verified, so that the ECDSA verification (the single most expensive step of a proxied
// request) runs once per client certificate rather than once per request, which is what
// TLS client authentication itself would do per connection. An entry is used only while
// the CA bundle is byte-for-byte the one read before the chain was verified, so a CA
// change (signer rotation, a new API server client CA) re-verifies at once. Failures are
// not remembered.
type cachedCertAuthenticator struct {
	delegate authenticator.Request
	bundle   func() []byte
	cache    *utilcache.LRUExpireCache
	clock    func() time.Time
}

type verifiedChain struct {
	bundle []byte
	resp   *authenticator.Response
}

func newCachedCertAuthenticator(delegate authenticator.Request, bundle func() []byte, now func() time.Time) *cachedCertAuthenticator {
	return &cachedCertAuthenticator{delegate: delegate, bundle: bundle,
		cache: utilcache.NewLRUExpireCacheWithClock(certCacheSize, clockFunc(now)), clock: now}
}

type clockFunc func() time.Time

func (f clockFunc) Now() time.Time { return f() }

// AuthenticateRequest answers from the cache or verifies with the delegate.
func (c *cachedCertAuthenticator) AuthenticateRequest(r *http.Request) (*authenticator.Response, bool, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, false, nil
	}
	h := sha256.New()
	notAfter := c.clock().Add(certCacheTTL)
	for _, cert := range r.TLS.PeerCertificates { // DER is self-delimiting
		h.Write(cert.Raw)
		if cert.NotAfter.Before(notAfter) {
			notAfter = cert.NotAfter
		}
	}
	key := string(h.Sum(nil))
	// Read before verifying: an entry may then only be older than the CA, never newer.
	bundle := c.bundle()
	if v, ok := c.cache.Get(key); ok {
		if entry := v.(verifiedChain); bytes.Equal(entry.bundle, bundle) {
			return cloneResponse(entry.resp), true, nil
		}
	}
	resp, ok, err := c.delegate.AuthenticateRequest(r)
	if err != nil || !ok || len(bundle) == 0 {
		return resp, ok, err
	}
	if ttl := notAfter.Sub(c.clock()); ttl > 0 {
		c.cache.Add(key, verifiedChain{bundle: bundle, resp: cloneResponse(resp)}, ttl)
	}
	return resp, ok, err
}

// cloneResponse copies resp deeply enough that callers (which add groups) never share
// state between requests.
func cloneResponse(resp *authenticator.Response) *authenticator.Response {
	u := resp.User
	extra := make(map[string][]string, len(u.GetExtra()))
	for k, v := range u.GetExtra() {
		extra[k] = slices.Clone(v)
	}
	return &authenticator.Response{
		Audiences: slices.Clone(resp.Audiences),
		User: &user.DefaultInfo{Name: u.GetName(), UID: u.GetUID(), Groups: slices.Clone(u.GetGroups()),
			Extra: extra},
	}
}
