// SPDX-License-Identifier: Apache-2.0

package upstream

import (
	"slices"
	"strings"
	"sync"

	"github.com/selkie-dev/selkie/pkg/internal/engine"
)

// Kinds of the IdP custom resources, as FederationDomain objectRefs name them.
const (
	KindOIDC            = "OIDCIdentityProvider"
	KindLDAP            = "LDAPIdentityProvider"
	KindActiveDirectory = "ActiveDirectoryIdentityProvider"
	KindGitHub          = "GitHubIdentityProvider"
)

// Key names an IdP resource in the supervisor's namespace.
type Key struct {
	Kind string
	Name string
}

// Registry holds the usable providers, written by the IdP controllers and read by
// every login. A resource that is not Ready has no entry. It is safe for concurrent use.
type Registry struct {
	mu        sync.RWMutex
	providers map[Key]Provider
	changed   chan struct{}
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{providers: map[Key]Provider{}, changed: make(chan struct{}, 1)}
}

// Changed receives a value after one or more Set or Delete calls (coalesced), for the
// one consumer that rebuilds what depends on the registry.
func (r *Registry) Changed() <-chan struct{} { return r.changed }

func (r *Registry) notify() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// Set stores (or replaces) the provider for key, and closes the provider it replaces
// when that has a Close method.
func (r *Registry) Set(key Key, p Provider) {
	r.mu.Lock()
	old, ok := r.providers[key]
	r.providers[key] = p
	r.notify()
	r.mu.Unlock()
	if ok {
		engine.Release(old, p)
	}
}

// Delete removes the provider for key, so that logins through it stop at once, and
// closes it when it has a Close method. Deleting an absent key changes nothing and
// notifies no one.
func (r *Registry) Delete(key Key) {
	r.mu.Lock()
	old, ok := r.providers[key]
	if ok {
		delete(r.providers, key)
		r.notify()
	}
	r.mu.Unlock()
	if ok {
		engine.Release(old, nil)
	}
}

// Get returns the provider for key.
func (r *Registry) Get(key Key) (Provider, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.providers[key]
	return p, ok
}

// Keys lists the stored keys, sorted by kind then name.
func (r *Registry) Keys() []Key {
	r.mu.RLock()
	defer r.mu.RUnlock()
	keys := make([]Key, 0, len(r.providers))
	for k := range r.providers {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b Key) int {
		if a.Kind != b.Kind {
			return strings.Compare(a.Kind, b.Kind)
		}
		return strings.Compare(a.Name, b.Name)
	})
	return keys
}
