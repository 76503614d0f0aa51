// SPDX-License-Identifier: Apache-2.0

package sessionstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// ErrRetryLater is what a GC.Revoke function wraps when the upstream could not be
// reached and the session should stay for another round (up to GC.MaxRetryAge).
var ErrRetryLater = errors.New("retry upstream revocation later")

// Defaults for the zero fields of GC.
const (
	// DefaultGCInterval is GC.Interval when zero.
	DefaultGCInterval = 10 * time.Minute
	// DefaultMaxRetryAge is GC.MaxRetryAge when zero: a day of retries covers an
	// upstream outage without keeping sessions (and their upstream tokens) for long.
	DefaultMaxRetryAge = 24 * time.Hour
)

// GC deletes expired sessions, asking the upstream IdP to revoke its tokens first.
// Several replicas may run it on one store: a session another replica deleted or
// changed meanwhile is skipped.
type GC struct {
	// Store holds the sessions.
	Store Store
	// Revoke revokes the session's upstream tokens; nil skips revocation. It is best
	// effort: on an error the session is deleted anyway, because an unreachable
	// upstream must not keep expired sessions forever. An error wrapping ErrRetryLater
	// keeps the session for the next round instead, while it expired less than
	// MaxRetryAge ago.
	Revoke func(ctx context.Context, s *Session) error
	// Interval is the time between rounds of Run (DefaultGCInterval if zero).
	Interval time.Duration
	// Clock returns the current time (time.Now if nil).
	Clock func() time.Time
	// Log receives the collector's logs (slog.Default() if nil). It logs session
	// IDs and upstream errors, never session contents.
	Log *slog.Logger
	// MaxRetryAge bounds ErrRetryLater: a session expired longer ago than this is
	// deleted even if Revoke asks to retry (DefaultMaxRetryAge if zero).
	MaxRetryAge time.Duration
	// Sessions, when set, receives the number of stored sessions after each round of a
	// Store that is a Counter.
	Sessions func(n int)
}

// Counter is a Store that can count its sessions cheaply (without unsealing them).
type Counter interface {
	Count(ctx context.Context) (int, error)
}

// Run collects every Interval until ctx ends, starting at once. Errors are logged.
func (g *GC) Run(ctx context.Context) {
	interval := g.Interval
	if interval <= 0 {
		interval = DefaultGCInterval
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		deleted, err := g.Once(ctx)
		if err != nil && ctx.Err() == nil {
			g.logger().ErrorContext(ctx, "session garbage collection failed", "deleted", deleted, "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// Once runs one round: it lists the sessions that expired before now, revokes and
// deletes each, then deletes expired sessions the store cannot read (no upstream
// revocation is possible for those), and returns how many it deleted. Sessions deleted or changed by
// someone else meanwhile are skipped quietly; other errors are joined.
func (g *GC) Once(ctx context.Context) (int, error) {
	now := g.now()
	expired, err := g.Store.List(ctx, ListOptions{ExpiredBefore: now})
	if err != nil {
		return 0, fmt.Errorf("list expired sessions: %w", err)
	}
	deleted := 0
	var errs []error
	for _, s := range expired {
		if err := ctx.Err(); err != nil {
			return deleted, errors.Join(append(errs, err)...)
		}
		if !g.revoke(ctx, s, now) {
			continue
		}
		err := g.Store.Delete(ctx, s.ID, s.ResourceVersion)
		switch {
		case err == nil:
			deleted++
			g.logger().DebugContext(ctx, "deleted expired session", "session", s.ID)
		case errors.Is(err, ErrConflict), errors.Is(err, ErrNotFound):
			// Another replica deleted it, or the session changed (a refresh may have
			// extended it): the next round decides again.
			g.logger().DebugContext(ctx, "expired session changed or deleted concurrently", "session", s.ID)
		default:
			errs = append(errs, fmt.Errorf("delete session %s: %w", s.ID, err))
		}
	}
	if c, ok := g.Store.(UnreadableCollector); ok {
		n, err := c.DeleteUnreadable(ctx, now)
		deleted += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	if c, ok := g.Store.(Counter); ok && g.Sessions != nil {
		n, err := c.Count(ctx)
		if err != nil {
			errs = append(errs, err)
		} else {
			g.Sessions(n)
		}
	}
	return deleted, errors.Join(errs...)
}

// revoke calls Revoke and reports whether the session should be deleted now.
func (g *GC) revoke(ctx context.Context, s *Session, now time.Time) bool {
	if g.Revoke == nil {
		return true
	}
	err := g.Revoke(ctx, s)
	if err == nil {
		return true
	}
	if errors.Is(err, ErrRetryLater) && now.Sub(s.Expires) < g.maxRetryAge() {
		g.logger().InfoContext(ctx, "upstream revocation deferred; keeping expired session", "session", s.ID, "error", err)
		return false
	}
	g.logger().WarnContext(ctx, "upstream revocation failed; deleting expired session anyway", "session", s.ID, "error", err)
	return true
}

func (g *GC) now() time.Time {
	if g.Clock == nil {
		return time.Now()
	}
	return g.Clock()
}

func (g *GC) logger() *slog.Logger {
	if g.Log == nil {
		return slog.Default()
	}
	return g.Log
}

func (g *GC) maxRetryAge() time.Duration {
	if g.MaxRetryAge <= 0 {
		return DefaultMaxRetryAge
	}
	return g.MaxRetryAge
}

// UnreadableMaxAge is how long after its creation a stored session that cannot be read,
// and whose expiry cannot be read either, is collected: longer than any session lives
// (the supervisor's --session-lifetime is at most 168 hours), plus a day.
const UnreadableMaxAge = 8 * 24 * time.Hour

// UnreadableCollector is implemented by stores that can hold sessions they cannot read,
// such as Secrets sealed with keys that were lost. DeleteUnreadable deletes those that
// expired before the given time and returns how many it deleted.
type UnreadableCollector interface {
	DeleteUnreadable(ctx context.Context, expiredBefore time.Time) (int, error)
}
