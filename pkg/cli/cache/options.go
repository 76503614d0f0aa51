// SPDX-License-Identifier: Apache-2.0

package cache

import (
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

const (
	// appName is the directory name below the user's configuration directory.
	appName = "selkie"

	// defaultLockTimeout is how long an operation waits for the lock file (§3.6).
	defaultLockTimeout = 10 * time.Second

	// lockPollInterval is how often a held lock is retried (§3.6).
	lockPollInterval = 10 * time.Millisecond
)

// Option configures a SessionCache or a CredentialCache.
type Option func(*options)

// options holds the injectable environment shared by both caches.
type options struct {
	clock       func() time.Time
	log         *slog.Logger
	lockTimeout time.Duration
}

func newOptions(opts []Option) options {
	o := options{
		clock:       time.Now,
		log:         slog.New(slog.DiscardHandler),
		lockTimeout: defaultLockTimeout,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithClock sets the clock used for timestamps and expiry decisions. The default is
// time.Now. The lock timeout always uses real time.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.clock = now
		}
	}
}

// WithLogger sets the logger that receives, at debug level, the errors the cache
// swallows (lock timeouts, unreadable or reset files, failed writes). By default they
// are discarded.
func WithLogger(logger *slog.Logger) Option {
	return func(o *options) {
		if logger != nil {
			o.log = logger
		}
	}
}

// WithLockTimeout sets how long an operation waits for the lock file before it is
// skipped. The default is 10 seconds.
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) {
		o.lockTimeout = d
	}
}

// DefaultDir returns the directory holding the default cache files:
// $XDG_CONFIG_HOME/selkie when XDG_CONFIG_HOME is set, else $HOME/.config/selkie. It
// returns the empty string when no home directory can be determined.
func DefaultDir() string {
	if dir := os.Getenv("XDG_CONFIG_HOME"); dir != "" {
		return filepath.Join(dir, appName)
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ""
	}
	return filepath.Join(home, ".config", appName)
}

// DefaultSessionPath returns the default session cache file, <DefaultDir>/sessions.yaml,
// or the empty string when DefaultDir is empty.
func DefaultSessionPath() string {
	return inDefaultDir("sessions.yaml")
}

// DefaultCredentialPath returns the default credential cache file,
// <DefaultDir>/credentials.yaml, or the empty string when DefaultDir is empty.
func DefaultCredentialPath() string {
	return inDefaultDir("credentials.yaml")
}

func inDefaultDir(name string) string {
	dir := DefaultDir()
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, name)
}
