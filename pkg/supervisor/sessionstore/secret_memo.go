// SPDX-License-Identifier: Apache-2.0

package sessionstore

import (
	"bytes"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/lru"
)

// decodedMemoSize bounds the decoded-session memo: at about 15 kB an entry for a session
// with a full replay history, at most a few MB, and only under load (an idle supervisor
// touches few sessions).
const decodedMemoSize = 256

// decodedSession is a session's stored bytes and what they decode to, its upstream data
// still sealed.
type decodedSession struct {
	// raw is the Secret's session data the entry was decoded from (or encoded to).
	raw []byte
	// session is the decoded session without UpstreamData and ResourceVersion. It is
	// never handed out: open returns copies.
	session *Session
	// sealed is the sealed upstream data, opened at every use.
	sealed []byte
}

// open returns a copy of the session at resourceVersion with its upstream data opened.
func (d *decodedSession) open(resourceVersion string, sealer Sealer) (*Session, error) {
	return d.openSession(clone(d.session), resourceVersion, sealer)
}

// take is open for a decodedSession nobody else holds: it returns its own session.
func (d *decodedSession) take(resourceVersion string, sealer Sealer) (*Session, error) {
	return d.openSession(d.session, resourceVersion, sealer)
}

func (d *decodedSession) openSession(s *Session, resourceVersion string, sealer Sealer) (*Session, error) {
	s.ResourceVersion = resourceVersion
	if len(d.sealed) > 0 {
		data, err := sealer.Open(d.sealed, []byte(s.ID))
		if err != nil {
			return nil, fmt.Errorf("open upstream data: %w", err)
		}
		s.UpstreamData = data
	}
	return s, nil
}

// decodedMemo remembers, for the sessions this process read or wrote last, the stored
// session bytes and what they decode to. A Get whose Secret holds exactly those bytes
// skips the JSON decode, the largest part of a Get's own CPU (about 0.1 ms for a session
// with a full replay history), which every refresh and token exchange pays: a refresh's
// Get then finds what the last exchange read, and an exchange's what the refresh wrote.
//
// It is a memo of a pure function, not a cache of the API server: the Secret is still
// read from the API server every time, and an entry is used only when its bytes are
// identical to the Secret's, so a Get returns exactly what decoding would. The Secret's
// type and format version are still checked, and the sealed upstream data is still
// opened, with the keyring as it is now, so a key removed from the ring makes a session
// unreadable as before. Safe for concurrent use.
type decodedMemo struct {
	entries *lru.Cache // session ID → *decodedSession
	// decodes counts the sessions decoded because nothing matching was remembered.
	decodes atomic.Int64
}

func newDecodedMemo(size int) *decodedMemo {
	return &decodedMemo{entries: lru.New(size)}
}

// decode returns the session in secret, through the memo.
func (m *decodedMemo) decode(secret *corev1.Secret, sealer Sealer) (*Session, error) {
	s, err := m.decodeData(secret, sealer)
	if err != nil {
		return nil, unreadable(secret, err)
	}
	return s, nil
}

func (m *decodedMemo) decodeData(secret *corev1.Secret, sealer Sealer) (*Session, error) {
	if err := checkSecret(secret); err != nil {
		return nil, err
	}
	id, _ := strings.CutPrefix(secret.Name, secretNamePrefix)
	if v, ok := m.entries.Get(id); ok {
		if d := v.(*decodedSession); bytes.Equal(d.raw, secret.Data[dataSession]) {
			return d.open(secret.ResourceVersion, sealer)
		}
	}
	m.decodes.Add(1)
	d, err := decodeSession(secret)
	if err != nil {
		m.entries.Remove(id)
		return nil, err
	}
	m.entries.Add(id, d)
	return d.open(secret.ResourceVersion, sealer)
}

// remember records d, just written, as what the session ID decodes to.
func (m *decodedMemo) remember(id string, d *decodedSession) { m.entries.Add(id, d) }

// forget drops what is remembered of the session ID.
func (m *decodedMemo) forget(id string) { m.entries.Remove(id) }

// asDecoded gives s, a normalized session just encoded, the form decoding its JSON
// gives: times without a monotonic clock reading, in UTC when their offset is zero
// (other offsets keep their instant and offset, as RFC 3339 does). It modifies s.
func asDecoded(s *Session) *Session {
	s.AuthTime, s.Expires = decodedTime(s.AuthTime), decodedTime(s.Expires)
	for _, t := range []*Token{s.Code, s.RefreshToken} {
		if t != nil {
			t.Expires = decodedTime(t.Expires)
		}
	}
	for i := range s.AccessTokens {
		s.AccessTokens[i].Expires = decodedTime(s.AccessTokens[i].Expires)
	}
	if g := s.DeviceGrant; g != nil {
		g.Expires, g.LastPoll = decodedTime(g.Expires), decodedTime(g.LastPoll)
	}
	return s
}

func decodedTime(t time.Time) time.Time {
	t = t.Round(0)
	if _, offset := t.Zone(); offset == 0 {
		return t.UTC()
	}
	return t
}
