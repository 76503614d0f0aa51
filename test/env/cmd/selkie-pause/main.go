// SPDX-License-Identifier: Apache-2.0

//go:build linux

// Command selkie-pause is the first process of every pod sandbox on the local
// environment's Kubernetes nodes (the pause image of test/env/image): it holds the pod's
// namespaces by staying alive, does nothing else, and exits 0 on SIGINT or SIGTERM. As
// PID 1 of a pod's PID namespace (shareProcessNamespace) it inherits the pod's orphaned
// processes, so it reaps every child that exits; otherwise they would stay zombies. It
// must be static: the pause image holds nothing but this binary.
package main

import (
	"errors"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// Buffered: signals arriving while a batch of children is reaped are not lost, and a
	// burst of SIGCHLD folds into one reap loop anyway.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	// Children that exited before Notify took effect sent their SIGCHLD into the void.
	reapChildren()
	for sig := range sigs {
		if sig == syscall.SIGCHLD {
			reapChildren()
			continue
		}
		os.Exit(0)
	}
}

// reapChildren collects every child that has exited, without blocking for those still
// running, and returns the number it collected.
func reapChildren() int {
	n := 0
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case err != nil || pid <= 0:
			// ECHILD (no children at all) or 0 (none has exited yet).
			return n
		}
		n++
	}
}
