// SPDX-License-Identifier: Apache-2.0

package memtrim

import (
	"bufio"
	"debug/elf"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestParseMaps(t *testing.T) {
	const exe = "/usr/local/bin/selkie-server"
	maps := `00400000-023fb000 r-xp 00000000 fd:01 123 /usr/local/bin/selkie-server
023fb000-04a4c000 r--p 01ffb000 fd:01 123 /usr/local/bin/selkie-server
04a4c000-04b1b000 rw-p 0464c000 fd:01 123 /usr/local/bin/selkie-server
04b1b000-05b6d000 rw-p 00000000 00:00 0
c000000000-c004000000 rw-p 00000000 00:00 0
7f0000000000-7f0000021000 r-xp 00000000 fd:01 456 /usr/lib/other.so
7ffd00000000-7ffd00021000 r--p 00000000 00:00 0                          [vvar]
`
	got, err := parseMaps(strings.NewReader(maps), exe)
	if err != nil {
		t.Fatal(err)
	}
	want := []mapping{{0x400000, 0x23fb000, "r-xp", exe}, {0x23fb000, 0x4a4c000, "r--p", exe}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("parseMaps = %+v, want the code and read-only data only: %+v", got, want)
	}
	if _, err := parseMaps(strings.NewReader("zz-00 r-xp 0 0 0 "+exe+"\n"), exe); err == nil {
		t.Error("a malformed range was accepted")
	}
}

// rssFile is this process's file-backed resident memory, from /proc/self/status.
func rssFile(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "RssFile:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n * 1024
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// TestTrimReleasesTheProgramsPages trims the test binary itself: its file-backed
// resident memory drops, and the process goes on running code from the trimmed pages.
// A position-independent test binary (as some build modes make) must be refused.
func TestTrimReleasesTheProgramsPages(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	typ := f.Type
	f.Close()
	before := rssFile(t)
	n, err := Trim()
	if typ != elf.ET_EXEC {
		if err == nil {
			t.Fatalf("a %s program was trimmed", typ)
		}
		t.Logf("a %s test binary: refused (%v)", typ, err)
		return
	}
	if err != nil || n == 0 {
		t.Fatalf("Trim = %d, %v", n, err)
	}
	after := rssFile(t)
	t.Logf("trimmed %d bytes of mappings: file-backed resident memory %d → %d bytes", n, before, after)
	if after >= before {
		t.Errorf("file-backed resident memory %d bytes before, %d after trimming %d bytes of mappings", before, after, n)
	}
	// Code from the trimmed pages still runs.
	if _, err := parseMaps(strings.NewReader(""), exe); err != nil {
		t.Fatal(err)
	}
}
