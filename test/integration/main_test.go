// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/selkie-dev/selkie/test/env"
)

// testEnv describes the environment every test in this package runs against.
var testEnv env.Info

// testWork is a directory for the whole run (built binaries, logs); cleanups run after
// every test, in reverse order, for fixtures shared by several tests.
var (
	testWork string
	cleanups []func()
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	var err error
	if testWork, err = os.MkdirTemp("", "selkie-integration-"); err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		return 1
	}
	if os.Getenv("SELKIE_KEEP_WORK") == "" {
		defer os.RemoveAll(testWork)
	} else {
		fmt.Fprintf(os.Stderr, "integration: keeping %s\n", testWork)
	}
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	if v := os.Getenv("SELKIE_SHARED_ENV"); v != "" {
		if v != "off" {
			fmt.Fprintf(os.Stderr, "integration: SELKIE_SHARED_ENV=%q: the only value is off\n", v)
			return 1
		}
		// The selected tests start environments of their own (hack/test-integration.sh
		// runs them beside the others); they use only the shared kubectl.
		bins, err := env.FindBinaries(context.Background())
		if err != nil {
			fmt.Fprintf(os.Stderr, "integration: FAIL: %v\n", err)
			return 1
		}
		testEnv = env.Info{Kubectl: filepath.Join(bins.ControlPlane, "kubectl")}
		return m.Run()
	}
	if err := buildSelkie(); err != nil {
		fmt.Fprintf(os.Stderr, "integration: FAIL: %v\n", err)
		return 1
	}
	if path := os.Getenv("SELKIE_ENV_FILE"); path != "" {
		info, err := env.LoadEnvFile(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "integration: SELKIE_ENV_FILE: %v\n", err)
			return 1
		}
		testEnv = info
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute) // includes a cold build of the peers
	defer cancel()
	e, err := env.Start(ctx, env.Options{WorkloadClusters: 2, Progress: os.Stderr})
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: FAIL: %v\n", err)
		return 1
	}
	defer e.Close()
	testEnv = e.Info
	return m.Run()
}

// selkieBins are the Selkie binaries the tests run as processes, built once by TestMain
// into testWork (the in-cluster tests, which build an image, do not need them).
var selkieBins struct{ cli, supervisor, concierge string }

// buildSelkie builds the CLI, the supervisor and the concierge into testWork.
func buildSelkie() error {
	for _, b := range []struct {
		path *string
		name string
		pkg  string
	}{
		{&selkieBins.cli, "selkie", "cmd/cli"},
		{&selkieBins.supervisor, "selkie-supervisor", "cmd/supervisor"},
		{&selkieBins.concierge, "selkie-concierge", "cmd/concierge"},
	} {
		bin := filepath.Join(testWork, b.name)
		if out, err := exec.Command("go", "build", "-o", bin, testEnvRepoFileNoT(b.pkg)).CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %v\n%s", b.name, err, out)
		}
		*b.path = bin
	}
	return nil
}
