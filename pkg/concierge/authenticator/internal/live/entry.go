// SPDX-License-Identifier: Apache-2.0

package live

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/selkie-dev/selkie/pkg/concierge/authenticator"
)

// Entry is a live authenticator together with the fingerprint of the
// configuration it was built from.
type Entry struct {
	authenticator.Token
	fingerprint string
	close       func()
}

var _ authenticator.Token = (*Entry)(nil)

// NewEntry wraps t, built from the configuration with fingerprint fp; close,
// if not nil, releases t's resources once t is no longer in use.
func NewEntry(t authenticator.Token, fp string, close func()) *Entry {
	return &Entry{Token: t, fingerprint: fp, close: close}
}

// Fingerprint returns the fingerprint the entry was built from.
func (e *Entry) Fingerprint() string { return e.fingerprint }

// Close releases the entry's resources.
func (e *Entry) Close() {
	if e.close != nil {
		e.close()
	}
}

// Lookup returns the Entry stored under key, or nil if there is none.
func Lookup(c *authenticator.Cache, key authenticator.Key) *Entry {
	t, ok := c.Get(key)
	if !ok {
		return nil
	}
	e, _ := t.(*Entry)
	return e
}

// Store makes e the live authenticator for key and closes the entry it replaces.
func Store(c *authenticator.Cache, key authenticator.Key, e *Entry) {
	old := Lookup(c, key)
	c.Store(key, e)
	if old != nil && old != e {
		old.Close()
	}
}

// Remove deletes key from the cache, closes its entry and reports whether there
// was one.
func Remove(c *authenticator.Cache, key authenticator.Key) bool {
	t, found := c.Get(key)
	c.Delete(key)
	if old, ok := t.(*Entry); ok {
		old.Close()
	}
	return found
}

// Fingerprint returns a SHA-256 hex digest of spec (marshalled as JSON) and the
// CA bundle, identifying a configuration without retaining it.
func Fingerprint(spec any, caBundle []byte) (string, error) {
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return "", fmt.Errorf("marshal spec: %w", err)
	}
	h := sha256.New()
	// Length-prefix each part so that no two (spec, bundle) pairs collide.
	_, _ = fmt.Fprintf(h, "%d:", len(specJSON))
	h.Write(specJSON)
	_, _ = fmt.Fprintf(h, "%d:", len(caBundle))
	h.Write(caBundle)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Outcome is what Apply did to the cache.
type Outcome int

// Outcomes of Apply.
const (
	// Unchanged means the cache already held the right value for the key.
	Unchanged Outcome = iota
	// Stored means a new entry was stored.
	Stored
	// Removed means an entry was removed because the resource is not ready.
	Removed
)

// Apply brings the cache in line with a validated resource: when the resource
// is not ready its entry is removed at once, so that a broken authenticator
// stops authenticating; when it is ready a newly built entry (if any) is stored.
func Apply(c *authenticator.Cache, key authenticator.Key, ready bool, e *Entry) Outcome {
	switch {
	case !ready:
		if Remove(c, key) {
			return Removed
		}
	case e != nil:
		Store(c, key, e)
		return Stored
	}
	return Unchanged
}
