// SPDX-License-Identifier: Apache-2.0

package cache

import (
	"os"
	"path/filepath"
	"time"
)

// LockLogin serialises interactive logins for one session cache across processes:
// kubectl may run several exec plugins at once (parallel commands, several contexts),
// and without it each would start its own browser or password login. The lock file is
// `<session cache>.login.lock`, separate from the cache file's own lock, which is held
// only while reading or writing. It waits up to timeout; on failure it returns a no-op
// release and the error, and the caller logs in unserialised rather than failing.
func LockLogin(sessionCachePath string, timeout time.Duration) (release func(), err error) {
	noop := func() {}
	if sessionCachePath == "" {
		return noop, nil
	}
	if err := os.MkdirAll(filepath.Dir(sessionCachePath), 0o700); err != nil {
		return noop, err
	}
	l, err := acquireLock(sessionCachePath+".login.lock", timeout)
	if err != nil {
		return noop, err
	}
	return func() { _ = l.release() }, nil
}
