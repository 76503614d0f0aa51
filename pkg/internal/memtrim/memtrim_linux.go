// SPDX-License-Identifier: Apache-2.0

//go:build linux

package memtrim

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Trim advises the kernel that the program's read-only mappings are not needed now and
// returns how many bytes of mappings it advised. It refuses a position-independent
// program.
func Trim() (int64, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	f, err := elf.Open(exe)
	if err != nil {
		return 0, fmt.Errorf("read the program: %w", err)
	}
	typ := f.Type
	f.Close()
	if typ != elf.ET_EXEC {
		return 0, fmt.Errorf("the program is %s, not loaded at a fixed address", typ)
	}
	maps, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, err
	}
	defer maps.Close()
	ms, err := parseMaps(maps, exe)
	if err != nil {
		return 0, err
	}
	if len(ms) == 0 {
		return 0, errors.New("no read-only mapping of the program in /proc/self/maps")
	}
	var n int64
	for _, m := range ms {
		// The mapping is the program file's: the runtime never allocates there, and
		// dropping the pages only makes their next use read them from the page cache.
		// (The raw system call: the address is not a Go pointer.)
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_DONTNEED); errno != 0 {
			return n, fmt.Errorf("madvise %x-%x: %w", m.start, m.end, errno)
		}
		n += int64(m.end - m.start) //nolint:gosec // a mapping's size, far below 2^63

	}
	return n, nil
}
