// SPDX-License-Identifier: Apache-2.0

package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gofrs/flock"
)

// errLockTimeout is returned when the lock file stayed locked for the whole timeout.
const errLockTimeout = constError("timed out waiting for the cache lock")

// constError is an error that can be declared as a constant.
type constError string

func (e constError) Error() string { return string(e) }

// fileLock is an exclusive advisory lock held on a lock file, taken with
// github.com/gofrs/flock as the reference CLI takes it (flock(2) on Unix, LockFileEx on
// Windows), so the two CLIs exclude each other. Where the platform has no such lock,
// every cache operation fails, and is logged, rather than run unlocked and lose other
// processes' entries.
type fileLock struct {
	lock *flock.Flock
}

// acquireLock opens (creating it with mode 0600 if needed) the lock file at path and
// waits up to timeout, polling every lockPollInterval, for an exclusive lock on it.
func acquireLock(path string, timeout time.Duration) (*fileLock, error) {
	l := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o600))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	locked, err := l.TryLock()
	if err == nil && !locked {
		locked, err = l.TryLockContext(ctx, lockPollInterval)
	}
	switch {
	case locked:
		return &fileLock{lock: l}, nil
	case err != nil && !errors.Is(err, context.DeadlineExceeded):
		_ = l.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	default:
		_ = l.Close()
		return nil, fmt.Errorf("lock %s after %s: %w", path, timeout, errLockTimeout)
	}
}

// release unlocks and closes the lock file.
func (l *fileLock) release() error {
	if err := l.lock.Unlock(); err != nil {
		_ = l.lock.Close()
		return fmt.Errorf("unlock: %w", err)
	}
	return l.lock.Close()
}
