// SPDX-License-Identifier: Apache-2.0

package kubeconfig

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
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
		GetPathToSelf: func() (string, error) {
			self, err := os.Executable()
			if err != nil {
				return "", err
			}
			return filepath.Abs(self)
		},
		NewClient: func(cfg *rest.Config) (dynamic.Interface, error) {
			return dynamic.NewForConfig(cfg)
		},
		Stdout:       os.Stdout,
		Stderr:       os.Stderr,
		PollInterval: pollInterval,
	}
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
