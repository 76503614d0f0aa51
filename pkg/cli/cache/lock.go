// SPDX-License-Identifier: Apache-2.0

package cache

import (
	"fmt"
	"os"
	"time"
)

// errLockTimeout is returned when the lock file stayed locked for the whole timeout.
const errLockTimeout = constError("timed out waiting for the cache lock")

// constError is an error that can be declared as a constant.
type constError string

func (e constError) Error() string { return string(e) }

// fileLock is an exclusive advisory lock held on an open lock file. It uses the same
// primitive as the reference CLI (github.com/gofrs/flock: flock(2) on Unix, LockFileEx on
// Windows), so the two CLIs exclude each other.
type fileLock struct {
	f *os.File
}

// acquireLock opens (creating it with mode 0600 if needed) the lock file at path and
// waits up to timeout, polling every lockPollInterval, for an exclusive lock on it.
func acquireLock(path string, timeout time.Duration) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		locked, err := tryLock(f)
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if locked {
			return &fileLock{f: f}, nil
		}
		if !time.Now().Before(deadline) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s after %s: %w", path, timeout, errLockTimeout)
		}
		time.Sleep(lockPollInterval)
	}
}

// release unlocks and closes the lock file. Closing alone would release the lock too;
// unlocking first keeps the lock's lifetime explicit.
func (l *fileLock) release() error {
	uerr := unlock(l.f)
	cerr := l.f.Close()
	if uerr != nil {
		return fmt.Errorf("unlock: %w", uerr)
	}
	return cerr
}
