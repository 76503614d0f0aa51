// SPDX-License-Identifier: Apache-2.0

//go:build unix

package cache

import (
	"errors"
	"os"
	"syscall"
)

// tryLock attempts a non-blocking exclusive flock(2). It reports false, without error,
// when another open file description holds the lock.
func tryLock(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, syscall.EWOULDBLOCK), errors.Is(err, syscall.EINTR):
		return false, nil
	default:
		return false, err
	}
}

func unlock(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
