// SPDX-License-Identifier: Apache-2.0

// Command selkie-demo is `make demo`: it runs the in-cluster flow of package demo (build
// the Selkie image, start the local environment with its nodes, install the supervisor
// with the Helm chart and the concierge from the Carvel templates as pods of that image,
// configure Dex and LDAP, log in with kubectl and selkie), prints how to log in yourself,
// then stops everything it started, or with DEMO_KEEP=1 keeps it running until Ctrl-C.
// DEMO_DIR chooses (and keeps) the directory of logs and files.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/selkie-dev/selkie/test/env"
	"github.com/selkie-dev/selkie/test/env/demo"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "selkie-demo: FAILED:", err)
		os.Exit(1)
	}
}

func run() error {
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	keep := os.Getenv("DEMO_KEEP") == "1"
	dir := os.Getenv("DEMO_DIR")
	var err error
	if dir == "" {
		if dir, err = os.MkdirTemp("", "selkie-demo-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ok := false
	defer func() {
		if ok && os.Getenv("DEMO_DIR") == "" {
			_ = os.RemoveAll(dir)
		} else {
			fmt.Printf("Logs and files kept in %s\n", dir)
		}
	}()
	d, err := demo.Start(ctx, demo.Options{Out: os.Stdout, Dir: dir, InCluster: true})
	if err != nil {
		return err
	}
	defer d.Close()
	printLogin(d, keep)
	if keep {
		fmt.Println("\nDEMO_KEEP=1: everything keeps running. Press Ctrl-C to stop it.")
		if err := hold(ctx, d); err != nil {
			return err
		}
	}
	ok = true
	return nil
}

func printLogin(d *demo.Demo, keep bool) {
	d.Say("Log in yourself")
	var users strings.Builder
	for _, u := range d.Env.Users {
		fmt.Fprintf(&users, "      %-6s password: %s  Dex: %-18s groups %-20s LDAP: %-6s groups %s\n", u.Username, u.Password,
			u.Email, strings.Join(u.Groups, ","), u.Username, strings.Join(env.LDAPGroupsOf(u.Username), ","))
	}
	fmt.Printf(`    Users (same password in Dex and LDAP; members of group "`+demo.Group+`" may list namespaces):
%s    Password flow:  kubectl --kubeconfig %s get ns
                    (prompts for the Dex username and password; LDAP: %s)
    Browser flow:   kubectl --kubeconfig %s get ns
                    (opens the supervisor's login page and its Dex/LDAP chooser; generated with
                    selkie get kubeconfig --upstream-identity-provider-flow browser_authcode;
                    add --oidc-skip-browser there to print the URL instead)
    The browser must trust the demo CAs: supervisor %s, Dex %s.
    When it asks whether the supervisor's page may reach this device, allow it: that page hands
    the login to the CLI on 127.0.0.1 (or paste the code it shows).
    Sessions are cached next to each kubeconfig (<kubeconfig>-sessions.yaml); remove it to log in again.
`, users.String(), d.Kubeconfig, d.LDAPKubeconfig, d.BrowserKubeconfig, d.SupervisorCAFile, d.Env.CABundle)
	if !keep {
		fmt.Println("    (These work while the demo runs: use DEMO_KEEP=1 make demo to keep it running.)")
	}
}

// hold waits for Ctrl-C, failing if a process ends on its own.
func hold(ctx context.Context, d *demo.Demo) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if err := d.Exited(); err != nil {
				return err
			}
		}
	}
}
