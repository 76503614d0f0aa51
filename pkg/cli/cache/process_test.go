// SPDX-License-Identifier: Apache-2.0

package cache

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

const (
	helperEnvPath   = "SELKIE_CACHE_TEST_HELPER_PATH"
	helperEnvWorker = "SELKIE_CACHE_TEST_HELPER_WORKER"
	helperPuts      = 10
)

// TestHelperProcess is not a test: TestConcurrentProcesses runs the test binary with it
// selected to get several real processes writing one cache file.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnvPath)
	if path == "" {
		t.Skip("helper process for TestConcurrentProcesses")
	}
	worker := os.Getenv(helperEnvWorker)
	c := NewSessionCache(path, WithClock(func() time.Time { return at(0) }))
	for i := range helperPuts {
		issuer := fmt.Sprintf("https://p%s-%d", worker, i)
		c.Put(SessionKey{Issuer: issuer}, &Tokens{Refresh: &RefreshToken{Token: issuer}})
	}
}

func TestConcurrentProcesses(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	const processes = 3
	path := filepath.Join(t.TempDir(), "sessions.yaml")
	cmds := make([]*exec.Cmd, 0, processes)
	for w := range processes {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnvPath+"="+path, helperEnvWorker+"="+strconv.Itoa(w))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("helper process: %v", err)
		}
	}

	keys := NewSessionCache(path, WithClock(func() time.Time { return at(0) })).Keys()
	got := make(map[string]bool, len(keys))
	for _, k := range keys {
		got[k.Issuer] = true
	}
	for w := range processes {
		for i := range helperPuts {
			if issuer := fmt.Sprintf("https://p%d-%d", w, i); !got[issuer] {
				t.Errorf("entry %q lost", issuer)
			}
		}
	}
	if len(keys) != processes*helperPuts {
		t.Errorf("got %d entries, want %d", len(keys), processes*helperPuts)
	}
}
