// SPDX-License-Identifier: Apache-2.0

//go:build !unix && !windows

package cache

import "os"

// errLockUnsupported makes every cache operation a logged no-op on platforms without
// advisory file locks: unlocked access could lose other processes' entries.
const errLockUnsupported = constError("file locking is not supported on this platform")

func tryLock(*os.File) (bool, error) { return false, errLockUnsupported }

func unlock(*os.File) error { return nil }
