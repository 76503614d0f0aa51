// SPDX-License-Identifier: Apache-2.0

package authenticator

import (
	"context"
	"sync"

	"k8s.io/apiserver/pkg/authentication/authenticator"
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
// is ready: controllers Store it when their resource becomes Ready and Delete it when the
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

// Store makes t the live authenticator for key.
func (c *Cache) Store(key Key, t Token) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items[key] = t
}

// Delete removes key's authenticator.
func (c *Cache) Delete(key Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.items, key)
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
