// SPDX-License-Identifier: Apache-2.0

package sessionstore

import (
	"context"
	"fmt"
	"strconv"
	"sync"
)

// memoryStore is a Store in process memory, for tests and single-process use. It keeps
// normalized deep copies and hands out deep copies, so no caller can change a stored
// session except through the Store methods.
type memoryStore struct {
	mu       sync.RWMutex
	sessions map[string]*Session
	// version is the last ResourceVersion handed out; every write takes the next one,
	// so a ResourceVersion is never reused, even after a delete and re-create.
	version uint64
}

var _ Store = (*memoryStore)(nil)

// NewMemoryStore returns an empty Store kept in process memory. It is safe for
// concurrent use within one process; sessions are lost when the process ends.
func NewMemoryStore() Store {
	return &memoryStore{sessions: map[string]*Session{}}
}

func (m *memoryStore) nextVersion() string {
	m.version++
	return strconv.FormatUint(m.version, 10)
}

// Create implements Store.
func (m *memoryStore) Create(_ context.Context, s *Session) error {
	if err := validateID(s.ID); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	stored, err := normalize(s)
	if err != nil {
		return fmt.Errorf("create session %s: %w", s.ID, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.sessions[s.ID]; ok {
		return fmt.Errorf("create session %s: %w", s.ID, ErrAlreadyExists)
	}
	stored.ResourceVersion = m.nextVersion()
	m.sessions[s.ID] = stored
	s.ResourceVersion = stored.ResourceVersion
	return nil
}

// Get implements Store.
func (m *memoryStore) Get(_ context.Context, id string) (*Session, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	stored, ok := m.sessions[id]
	if !ok {
		return nil, fmt.Errorf("get session %s: %w", id, ErrNotFound)
	}
	return clone(stored), nil
}

// Update implements Store. An empty ResourceVersion is a conflict: an update must
// be based on a read.
func (m *memoryStore) Update(_ context.Context, s *Session) error {
	stored, err := normalize(s)
	if err != nil {
		return fmt.Errorf("update session %s: %w", s.ID, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	current, ok := m.sessions[s.ID]
	if !ok {
		return fmt.Errorf("update session %s: %w", s.ID, ErrNotFound)
	}
	if s.ResourceVersion != current.ResourceVersion {
		return fmt.Errorf("update session %s at version %q (current %q): %w",
			s.ID, s.ResourceVersion, current.ResourceVersion, ErrConflict)
	}
	stored.ResourceVersion = m.nextVersion()
	m.sessions[s.ID] = stored
	s.ResourceVersion = stored.ResourceVersion
	return nil
}

// Delete implements Store.
func (m *memoryStore) Delete(_ context.Context, id, resourceVersion string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	current, ok := m.sessions[id]
	if !ok {
		return fmt.Errorf("delete session %s: %w", id, ErrNotFound)
	}
	if resourceVersion != "" && resourceVersion != current.ResourceVersion {
		return fmt.Errorf("delete session %s at version %q (current %q): %w",
			id, resourceVersion, current.ResourceVersion, ErrConflict)
	}
	delete(m.sessions, id)
	return nil
}

// List implements Store.
func (m *memoryStore) List(_ context.Context, opts ListOptions) ([]*Session, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []*Session
	for _, s := range m.sessions {
		if matches(s, opts) {
			out = append(out, clone(s))
		}
	}
	return out, nil
}
