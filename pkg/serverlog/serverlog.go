// SPDX-License-Identifier: Apache-2.0

// Package serverlog builds the servers' loggers: JSON lines on stderr at the level of
// --log-level. Levels say what may appear: info and above never carry tokens,
// passwords, codes or (unless --log-user-info) usernames and groups; debug adds
// request details with the same restrictions.
package serverlog

import (
	"fmt"
	"log/slog"
	"os"
)

// New returns a JSON logger on stderr at level (debug, info, warn or error).
func New(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}
