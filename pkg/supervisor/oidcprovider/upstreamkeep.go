// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
)

// keptUpstream is upstream data that a refresh obtained but could not store: the
// upstream had already rotated its refresh token (as Dex and Okta do), so the data in
// the stored session no longer refreshes once the upstream's reuse interval is over.
type keptUpstream struct {
	from    []byte    // the stored session's upstream data the refresh started from
	to      []byte    // what the upstream answered
	until   time.Time // when the keeper gives up
	writing bool      // a writer goroutine runs for this session
}

// upstreamKeeper holds such data per session ID until it is stored: refreshes on this
// replica use it instead of the stored data, and a background writer stores it into the
// session as soon as the store takes writes again, changing nothing else (the client's
// refresh token was not rotated, since the client got an error and still holds it).
type upstreamKeeper struct {
	mu      sync.Mutex
	kept    map[string]*keptUpstream
	store   func() sessionstore.Store
	clock   func() time.Time
	retry   time.Duration // first pause between write attempts; it doubles up to 5 s
	keepFor time.Duration
	onGive  func(id string, err error) // called when the writer gives up
}

func newUpstreamKeeper(store func() sessionstore.Store, now func() time.Time, onGive func(string, error)) *upstreamKeeper {
	return &upstreamKeeper{kept: map[string]*keptUpstream{}, store: store, clock: now, retry: 250 * time.Millisecond,
		keepFor: 10 * time.Minute, onGive: onGive}
}

// use returns the data a refresh of the session must present upstream: the kept data if
// the stored session still holds what it was refreshed from, else the stored data.
func (k *upstreamKeeper) use(id string, stored []byte) []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e, ok := k.kept[id]; ok && bytes.Equal(e.from, stored) {
		return e.to
	}
	return stored
}

// stored forgets what was kept for the session: its refresh was stored.
func (k *upstreamKeeper) stored(id string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e, ok := k.kept[id]; ok {
		e.to = nil // a running writer sees this and stops
		delete(k.kept, id)
	}
}

// keep remembers that the session, stored with upstream data from, should hold to,
// and starts a writer for it unless one runs.
func (k *upstreamKeeper) keep(id string, from, to []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e := k.kept[id]
	if e != nil && !bytes.Equal(e.from, from) {
		e.to = nil // kept for an older state of the session: its writer stops
		e = nil
	}
	if e == nil {
		e = &keptUpstream{from: from}
		k.kept[id] = e
	}
	e.to, e.until = to, k.clock().Add(k.keepFor)
	if !e.writing {
		e.writing = true
		go k.write(id, e)
	}
}

// write stores e.to into the session until it succeeds, the session has moved on (it
// was refreshed elsewhere, revoked or ended) or e expires.
func (k *upstreamKeeper) write(id string, e *keptUpstream) {
	pause := k.retry
	for {
		done, err := k.tryWrite(id, e)
		if done {
			return
		}
		k.mu.Lock()
		expired := !k.clock().Before(e.until)
		if expired {
			if k.kept[id] == e {
				delete(k.kept, id)
			}
			e.writing = false
		}
		k.mu.Unlock()
		if expired {
			k.onGive(id, err)
			return
		}
		time.Sleep(pause)
		pause = min(2*pause, 5*time.Second)
	}
}

// tryWrite makes one attempt; done means the writer has nothing left to do.
func (k *upstreamKeeper) tryWrite(id string, e *keptUpstream) (done bool, err error) {
	finish := func() (bool, error) {
		k.mu.Lock()
		defer k.mu.Unlock()
		e.writing = false
		if k.kept[id] == e {
			delete(k.kept, id)
		}
		return true, nil
	}
	k.mu.Lock()
	from, to := e.from, e.to
	k.mu.Unlock()
	if to == nil {
		return finish()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := k.store().Get(ctx, id)
	switch {
	case errors.Is(err, sessionstore.ErrNotFound):
		return finish()
	case err != nil:
		return false, err
	case !bytes.Equal(s.UpstreamData, from):
		return finish() // stored already, or refreshed with other data since
	}
	s.UpstreamData = to
	if err := k.store().Update(ctx, s); err != nil {
		if errors.Is(err, sessionstore.ErrNotFound) {
			return finish()
		}
		return false, err // a conflict too: the next attempt reads the session again
	}
	k.mu.Lock()
	newer := e.to != nil && !bytes.Equal(e.to, to)
	if newer { // a later refresh here kept newer data meanwhile: store that next
		e.from = to
	}
	k.mu.Unlock()
	if newer {
		return false, nil
	}
	return finish()
}
