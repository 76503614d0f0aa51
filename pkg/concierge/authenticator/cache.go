// SPDX-License-Identifier: Apache-2.0

package authenticator

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"

	"k8s.io/apiserver/pkg/authentication/authenticator"

	"github.com/selkie-dev/selkie/pkg/internal/engine"
)

// Token authenticates a bearer token; k8s.io/apiserver's OIDC and webhook token
// authenticators satisfy it.
type Token interface {
	AuthenticateToken(ctx context.Context, token string) (*authenticator.Response, bool, error)
}

// Key identifies an authenticator the way a TokenCredentialRequest names it: the exact
// API group (with the install's suffix), kind and name.
type Key struct {
	APIGroup string
	Kind     string
	Name     string
}

// Cache maps keys to live authenticators. A key is present only while its authenticator
// is ready: controllers Set it when their resource becomes Ready and Delete it when the
// resource is deleted or stops being valid, so a broken authenticator stops at once.
type Cache struct {
	mu    sync.RWMutex
	items map[Key]Token
}

// NewCache returns an empty Cache.
func NewCache() *Cache { return &Cache{items: map[Key]Token{}} }

// Get returns the live authenticator for key.
func (c *Cache) Get(key Key) (Token, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.items[key]
	return t, ok
}

// Set makes t the live authenticator for key and closes the one it replaces (see
// Closing).
func (c *Cache) Set(key Key, t Token) {
	c.mu.Lock()
	old, ok := c.items[key]
	c.items[key] = t
	c.mu.Unlock()
	if ok {
		engine.Release(old, t)
	}
}

// Delete removes key's authenticator and closes it (see Closing).
func (c *Cache) Delete(key Key) {
	c.mu.Lock()
	old, ok := c.items[key]
	delete(c.items, key)
	c.mu.Unlock()
	if ok {
		engine.Release(old, nil)
	}
}

// closing is a Token with background work that Close stops.
type closing struct {
	Token
	close func()
}

func (c *closing) Close() { c.close() }

// Closing returns t with a Close method that calls stop, for an authenticator whose
// background work (key refresh, idle connections) must end when the cache drops it.
func Closing(t Token, stop func()) Token { return &closing{Token: t, close: stop} }

// jwtToken is a Token for the JWTs of one issuer.
type jwtToken struct {
	Token
	issuer string
}

func (t *jwtToken) Issuer() string { return t.issuer }

// Close stops t's background work, if it has any (see Closing).
func (t *jwtToken) Close() {
	if c, ok := t.Token.(interface{ Close() }); ok {
		c.Close()
	}
}

// ForIssuer returns t marked as the authenticator of issuer's JWTs, which ForIssuer of
// the Cache finds.
func ForIssuer(t Token, issuer string) Token { return &jwtToken{Token: t, issuer: issuer} }

// ForIssuer returns the live authenticators of issuer's JWTs (see the function
// ForIssuer) with their keys, ordered by key.
func (c *Cache) ForIssuer(issuer string) ([]Key, []Token) {
	c.mu.RLock()
	var keys []Key
	for k, t := range c.items {
		if j, ok := t.(*jwtToken); ok && j.issuer == issuer {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b Key) int {
		return cmp.Or(strings.Compare(a.APIGroup, b.APIGroup), strings.Compare(a.Kind, b.Kind), strings.Compare(a.Name, b.Name))
	})
	tokens := make([]Token, len(keys))
	for i, k := range keys {
		tokens[i] = c.items[k]
	}
	c.mu.RUnlock()
	return keys, tokens
}

// Keys returns the keys present, in no particular order.
func (c *Cache) Keys() []Key {
	c.mu.RLock()
	defer c.mu.RUnlock()
	keys := make([]Key, 0, len(c.items))
	for k := range c.items {
		keys = append(keys, k)
	}
	return keys
}
