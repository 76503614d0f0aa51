// SPDX-License-Identifier: Apache-2.0

package authenticator

import (
	"context"
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
