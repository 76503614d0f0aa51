// SPDX-License-Identifier: Apache-2.0

// Command selkie-env starts Selkie's local environment (control planes, Dex, slapd),
// prints where its env file and admin kubeconfig are, and holds it open until Ctrl-C
// (or SIGTERM), then stops every process it started. `make env` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/selkie-dev/selkie/test/env"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "selkie-env:", err)
		os.Exit(1)
	}
}

func run() error {
	workloads := flag.Int("workload-clusters", 0, "number of workload control planes besides the management cluster")
	nodes := flag.Int("nodes", 1, "nodes per cluster (0: none; nodes need root)")
	dir := flag.String("dir", "", "directory for the environment (default: a new temp dir, removed on exit)")
	link := flag.String("env-file-link", "", "also copy the env file here (e.g. ./.env), removed on exit")
	flag.Parse()

	// Ctrl-C reaches a pipe reader (`make env | tee`) too; without this, our next write to
	// the closed pipe would kill us before we stop the peers and remove the directory.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	e, err := env.Start(ctx, env.Options{Dir: *dir, WorkloadClusters: *workloads, Progress: os.Stderr,
		NodesPerCluster: *nodes, NoNodes: *nodes == 0})
	if err != nil {
		return err
	}
	defer e.Close()
	if *link != "" {
		data, err := os.ReadFile(e.EnvFile)
		if err == nil {
			err = os.WriteFile(*link, data, 0o600)
		}
		if err != nil {
			return fmt.Errorf("copy env file: %w", err)
		}
		defer os.Remove(*link)
	}
	fmt.Printf(`Selkie local environment is up.
  env file:          %s   (source it: . %s)
  admin kubeconfig:  %s
  kubectl:           %s
  Dex issuer:        %s
  LDAP (StartTLS):   ldap://%s
Press Ctrl-C to stop everything.
`, e.EnvFile, e.EnvFile, e.Management().Kubeconfig, e.Kubectl, e.Dex.Issuer, e.LDAP.StartTLSAddr)

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(os.Stderr, "selkie-env: stopping")
			return nil
		case <-tick.C:
			if p := e.Exited(); p != nil {
				return fmt.Errorf("%s (pid %d) exited on its own; see %s", p.Name, p.PID(), p.LogFile)
			}
		}
	}
}
