// SPDX-License-Identifier: Apache-2.0

package kubeconfig

import (
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// pollInterval is how often a pending CredentialIssuer is re-read and the new cluster
// URL retried (docs/wire-contract.md §3.1).
const pollInterval = 2 * time.Second

// Deps are the command's ties to the outside world, replaceable in tests.
type Deps struct {
	// GetPathToSelf returns the running binary, the default exec command.
	GetPathToSelf func() (string, error)
	// NewClient builds the client used for discovery with the source kubeconfig's
	// credentials. It is dynamic because the API group suffix is only known at run time.
	NewClient func(*rest.Config) (dynamic.Interface, error)
	Stdout    io.Writer
	// Stderr receives progress logs.
	Stderr io.Writer
	// PollInterval is the wait between CredentialIssuer reads and validation attempts.
	PollInterval time.Duration
}

// DefaultDeps are the real ones.
func DefaultDeps() Deps {
	return Deps{
		GetPathToSelf: func() (string, error) { return pathToSelf(os.Executable, os.Args[0], exec.LookPath) },
		NewClient: func(cfg *rest.Config) (dynamic.Interface, error) {
			return dynamic.NewForConfig(cfg)
		},
		Stdout:       os.Stdout,
		Stderr:       os.Stderr,
		PollInterval: pollInterval,
	}
}

// pathToSelf is the absolute path a kubeconfig's exec command should name to run this
// CLI again: the executable, unless it was run through a link of another name (the
// image's selkie is a link to the multi-call selkie-server, which takes its role from
// the name it is run as), in which case the link, found the way the shell found it.
// A name that is not on PATH (a shell alias) falls back to the executable.
func pathToSelf(executable func() (string, error), argv0 string, lookPath func(string) (string, error)) (string, error) {
	self, err := executable()
	if err != nil {
		return "", err
	}
	if argv0 != "" && filepath.Base(argv0) != filepath.Base(self) {
		link := argv0
		if !strings.ContainsRune(argv0, filepath.Separator) {
			if link, err = lookPath(argv0); err != nil {
				return filepath.Abs(self) // not a link on PATH (an alias, say): the binary itself
			}
		}
		return filepath.Abs(link)
	}
	return filepath.Abs(self)
}

func (d Deps) logger() *slog.Logger {
	dropTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	return slog.New(slog.NewTextHandler(d.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo, ReplaceAttr: dropTime}))
}
