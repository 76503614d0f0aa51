// SPDX-License-Identifier: Apache-2.0

// Package httpretry retries the CLI's requests to the supervisor's token endpoint and to
// the concierge when that is safe, so that a rolling update of their pods does not fail
// a kubectl call: the connection could not be opened (the request never reached a
// server), or the answer is 502, 503, 504 or 429 (a proxy, the aggregator or the server
// says it cannot take the request now).
//
// It never retries once a request may have been processed: a connection reset after the
// request was written, a timeout while reading the answer, any other status. A refresh
// token is single-use, and replaying one ends the session at the supervisor.
package httpretry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	// Attempts bounds the requests Do sends.
	Attempts = 4
	// FirstBackoff is the wait before the first retry; it doubles for each later one.
	FirstBackoff = 250 * time.Millisecond
	// MaxRetryAfter is the longest Retry-After Do waits for; a longer one ends the
	// retries.
	MaxRetryAfter = 5 * time.Second
)

// Options are the caller's logger and clock.
type Options struct {
	// Log receives a debug record per retry; nil logs nothing.
	Log *slog.Logger
	// Sleep waits d or until ctx ends; nil waits on a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Do sends the request newRequest builds, a new one (with a new body) per attempt, and
// retries it as the package describes, at most Attempts times in all and never waiting
// past ctx's deadline. It returns the last answer as client.Do would: a response whose
// body the caller closes, or an error.
func Do(ctx context.Context, client *http.Client, newRequest func() (*http.Request, error), opts Options) (*http.Response, error) {
	sleep := opts.Sleep
	if sleep == nil {
		sleep = Sleep
	}
	backoff := FirstBackoff
	for attempt := 1; ; attempt++ {
		req, err := newRequest()
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		wait, reason, retry := retryable(resp, err, backoff)
		if !retry || attempt == Attempts || ctx.Err() != nil || !beforeDeadline(ctx, wait) {
			return resp, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		if opts.Log != nil {
			opts.Log.Debug("retrying a request", "method", req.Method, "url", withoutQuery(req.URL),
				"attempt", attempt+1, "of", Attempts, "wait", wait, "reason", reason)
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%s, and gave up waiting to retry: %w", reason, err)
		}
		backoff *= 2
	}
}

// retryable says whether the answer to one attempt may be retried, after how long, and
// why (for the log).
func retryable(resp *http.Response, err error, backoff time.Duration) (time.Duration, string, bool) {
	if err != nil {
		var op *net.OpError
		// "proxyconnect" covers reaching the proxy and its CONNECT, also before the
		// request is sent.
		if errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect") {
			return backoff, op.Error(), true
		}
		return 0, "", false
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusTooManyRequests:
	default:
		return 0, "", false
	}
	wait := backoff
	if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		if d > MaxRetryAfter {
			return 0, "", false
		}
		wait = max(wait, d)
	}
	return wait, resp.Status, true
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(min(s, int64(time.Hour/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// beforeDeadline says whether waiting d still leaves ctx time for a request.
func beforeDeadline(ctx context.Context, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) > d
}

func withoutQuery(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// Sleep waits d or until ctx ends, whichever comes first, and returns ctx's error in the
// second case.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
