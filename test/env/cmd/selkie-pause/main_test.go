// SPDX-License-Identifier: Apache-2.0

//go:build linux && integration

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestReapChildrenCollectsExitedChildren starts children that exit at once and are never
// waited for, as orphans reparented to a pod's PID 1 are, and checks that reapChildren
// leaves no zombie behind.
func TestReapChildrenCollectsExitedChildren(t *testing.T) {
	// The test binary itself, running no test, is a child that exits at once (and is
	// there on every machine that runs this test).
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for range 3 {
		p, err := os.StartProcess(self, []string{self, "-test.run=^$"}, &os.ProcAttr{})
		if err != nil {
			t.Fatalf("start child: %v", err)
		}
		pids = append(pids, p.Pid)
	}
	reaped := 0
	for deadline := time.Now().Add(10 * time.Second); reaped < len(pids) && time.Now().Before(deadline); {
		reaped += reapChildren()
		time.Sleep(10 * time.Millisecond)
	}
	if reaped != len(pids) {
		t.Fatalf("reaped %d children, want %d", reaped, len(pids))
	}
	for _, pid := range pids {
		// A reaped child is gone: waiting for it again finds no such child.
		if _, err := syscall.Wait4(pid, nil, syscall.WNOHANG, nil); !errors.Is(err, syscall.ECHILD) {
			t.Errorf("child %d is still waitable (err %v): not reaped", pid, err)
		}
	}
}

// TestExitsZeroOnSIGTERM builds the command and checks that it blocks until SIGTERM and
// then exits 0, which is how the runtime stops a pod sandbox.
func TestExitsZeroOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: this test runs go build")
	}
	bin := filepath.Join(t.TempDir(), "pause")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		cmd := exec.Command(bin)
		if err := cmd.Start(); err != nil {
			t.Fatalf("start pause: %v", err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			t.Fatalf("pause exited before any signal: %v", err)
		case <-time.After(300 * time.Millisecond):
		}
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatalf("signal pause: %v", err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("pause after %v: %v, want exit status 0", sig, err)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("pause did not exit within 10s of %v", sig)
		}
	}
}
