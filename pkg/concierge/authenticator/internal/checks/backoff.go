// SPDX-License-Identifier: Apache-2.0

package checks

import (
	"time"

	"k8s.io/client-go/util/workqueue"
)

// Backoff paces re-validation of failing resources: each consecutive failure
// of the same name doubles the delay, from 1s up to 5m. The zero value is not
// usable; use NewBackoff. It is safe for concurrent use.
type Backoff struct {
	limiter workqueue.TypedRateLimiter[string]
}

// NewBackoff returns a Backoff with no failures recorded.
func NewBackoff() *Backoff {
	return &Backoff{limiter: workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, 5*time.Minute)}
}

// Next records a failure of name and returns how long to wait before retrying.
func (b *Backoff) Next(name string) time.Duration { return b.limiter.When(name) }

// Reset forgets the failures of name.
func (b *Backoff) Reset(name string) { b.limiter.Forget(name) }

// After returns how long to wait before validating name again after a
// reconciliation that produced l: a growing delay when a check asked to be
// retried, otherwise zero (and the failures of name are forgotten).
func (b *Backoff) After(name string, l *List) time.Duration {
	if l.Retry() {
		return b.Next(name)
	}
	b.Reset(name)
	return 0
}
