// SPDX-License-Identifier: Apache-2.0

package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"time"
)

// Policy says when signing keys rotate.
type Policy struct {
	// Period is how long a key signs before the next one takes over (default 30 days).
	Period time.Duration
	// Lead is how long the next key is published before it signs (default a quarter of
	// the period, at most 24 hours), so that verifiers caching the JWKS already have it.
	Lead time.Duration
	// Retain is how long a replaced key stays published (default 1 hour, more than the
	// longest ID-token lifetime, 30 minutes), so that tokens it signed keep verifying.
	Retain time.Duration
}

// DefaultPeriod is how long a signing key signs unless configured otherwise.
const DefaultPeriod = 30 * 24 * time.Hour

func (p Policy) complete() Policy {
	if p.Period <= 0 {
		p.Period = DefaultPeriod
	}
	if p.Lead <= 0 || p.Lead >= p.Period {
		p.Lead = min(p.Period/4, 24*time.Hour)
	}
	if p.Retain <= 0 {
		p.Retain = time.Hour
	}
	return p
}

// ring is the stored state: every key still published, and the last rotation request
// handled.
type ring struct {
	keys []*Key
	// rotatedFor is the value of the rotation annotation last acted on.
	rotatedFor string
}

// plan advances r to now under p: it acts on a rotation request, generates the next key
// when it is due, and forgets keys replaced longer than Retain ago. It reports whether r
// changed and when it next needs to run.
func (r *ring) plan(p Policy, now time.Time, rotateRequest string, random io.Reader) (changed bool, again time.Time, err error) {
	if len(r.keys) == 0 {
		k, err := newKey(random, now, now)
		if err != nil {
			return false, time.Time{}, err
		}
		r.keys, changed = []*Key{k}, true
	}
	if rotateRequest != "" && rotateRequest != r.rotatedFor {
		if err := r.rotateNow(now, random); err != nil {
			return false, time.Time{}, err
		}
		r.rotatedFor, changed = rotateRequest, true
	}
	r.sort()
	set := r.at(now)
	if set.Next == nil && !now.Before(set.Active.ActiveFrom.Add(p.Period-p.Lead)) {
		activeFrom := set.Active.ActiveFrom.Add(p.Period)
		if earliest := now.Add(p.Lead); activeFrom.Before(earliest) {
			activeFrom = earliest // late (the supervisor was down): still publish first
		}
		k, err := newKey(random, now, activeFrom)
		if err != nil {
			return false, time.Time{}, err
		}
		r.keys, changed = append(r.keys, k), true
		r.sort()
	}
	kept := r.keys[:0]
	for i, k := range r.keys {
		if i+1 < len(r.keys) && !r.keys[i+1].ActiveFrom.After(now) && !now.Before(r.keys[i+1].ActiveFrom.Add(p.Retain)) {
			changed = true // replaced more than Retain ago
			continue
		}
		kept = append(kept, k)
	}
	r.keys = kept
	return changed, r.nextRun(p, now), nil
}

// rotateNow makes the next key (published already, if there is one) or a new key active now.
func (r *ring) rotateNow(now time.Time, random io.Reader) error {
	r.sort()
	if last := r.keys[len(r.keys)-1]; last.ActiveFrom.After(now) {
		last.ActiveFrom = now
		return nil
	}
	k, err := newKey(random, now, now)
	if err != nil {
		return err
	}
	r.keys = append(r.keys, k)
	return nil
}

// sort orders keys by activation, oldest first.
func (r *ring) sort() {
	slices.SortStableFunc(r.keys, func(a, b *Key) int { return a.ActiveFrom.Compare(b.ActiveFrom) })
}

// at is the Set at now: the newest key already active signs, a later one is next, older
// ones are previous (newest first).
func (r *ring) at(now time.Time) *Set {
	set := &Set{}
	for i := len(r.keys) - 1; i >= 0; i-- {
		k := r.keys[i]
		switch {
		case k.ActiveFrom.After(now):
			set.Next = k
		case set.Active == nil:
			set.Active = k
		default:
			set.Previous = append(set.Previous, k)
		}
	}
	if set.Active == nil && set.Next != nil { // only future keys: sign with the earliest now
		set.Active, set.Next = set.Next, nil
	}
	return set
}

// nextRun is the earliest moment plan has something to do.
func (r *ring) nextRun(p Policy, now time.Time) time.Time {
	set := r.at(now)
	var times []time.Time
	if set.Next != nil {
		times = append(times, set.Next.ActiveFrom)
	} else {
		times = append(times, set.Active.ActiveFrom.Add(p.Period-p.Lead))
	}
	for i := 0; i+1 < len(r.keys); i++ {
		if replaced := r.keys[i+1].ActiveFrom; !replaced.After(now) {
			times = append(times, replaced.Add(p.Retain))
		}
	}
	return slices.MinFunc(times, time.Time.Compare)
}

func newKey(random io.Reader, created, activeFrom time.Time) (*Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), random)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	id := make([]byte, 16)
	if _, err := io.ReadFull(rand.Reader, id); err != nil {
		return nil, fmt.Errorf("generate key ID: %w", err)
	}
	return &Key{ID: base64.RawURLEncoding.EncodeToString(id), Private: priv, Created: created, ActiveFrom: activeFrom}, nil
}
