// SPDX-License-Identifier: Apache-2.0

package impersonationproxy

import (
	"context"
	"fmt"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TokenLifetime is the lifetime requested for the proxy's ServiceAccount tokens.
const TokenLifetime = 24 * time.Hour

// Renewal timing: each TokenRequest gets tokenRequestTimeout; after a failure the next
// waits tokenRetryMin, doubling up to tokenRetryMax.
const (
	tokenRequestTimeout = 30 * time.Second
	tokenRetryMin       = time.Second
	tokenRetryMax       = time.Minute
)

// TokenSource returns TokenRequest tokens of the proxy's ServiceAccount, cached and
// renewed once 80% of their lifetime has passed (as the kubelet does).
//
// Requests never wait for a renewal while the cached token is valid: the first one to
// notice renewal is due starts it in the background, on its own context, and every
// request keeps the cached token until the new one lands. Only when there is no valid
// token do requests wait, for the one TokenRequest in flight. A failed TokenRequest is
// retried after a back-off, not by every request.
type TokenSource struct {
	Kube           kubernetes.Interface
	Namespace      string
	ServiceAccount string
	Clock          func() time.Time // nil: time.Now

	mu              sync.Mutex
	token           string
	renewAt, expiry time.Time
	inflight        chan struct{} // closed when the TokenRequest in flight ends
	failures        int
	retryAt         time.Time // no TokenRequest before this after a failure
	lastErr         error
}

func (t *TokenSource) now() time.Time {
	if t.Clock != nil {
		return t.Clock()
	}
	return time.Now()
}

// Token returns a valid token; it waits (at most until ctx ends) only when there is none.
func (t *TokenSource) Token(ctx context.Context) (string, error) {
	for attempt := 0; ; attempt++ {
		t.mu.Lock()
		now := t.now()
		valid := t.token != "" && now.Before(t.expiry)
		due := !valid || !now.Before(t.renewAt)
		if due && t.inflight == nil && !now.Before(t.retryAt) {
			t.inflight = make(chan struct{})
			go t.renew(t.inflight) //nolint:gosec // G118: the renewal outlives the request that noticed it was due; it has its own timeout.
		}
		token, wait, lastErr := t.token, t.inflight, t.lastErr
		t.mu.Unlock()
		switch {
		case valid:
			return token, nil
		case wait == nil || attempt > 0:
			return "", fmt.Errorf("token for ServiceAccount %s/%s: %w", t.Namespace, t.ServiceAccount, lastErr)
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return "", fmt.Errorf("token for ServiceAccount %s/%s: %w", t.Namespace, t.ServiceAccount, ctx.Err())
		}
	}
}

// renew requests a token and records the result, then closes done.
func (t *TokenSource) renew(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), tokenRequestTimeout)
	defer cancel()
	seconds := int64(TokenLifetime.Seconds())
	tr, err := t.Kube.CoreV1().ServiceAccounts(t.Namespace).CreateToken(ctx, t.ServiceAccount, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds}}, metav1.CreateOptions{})
	t.mu.Lock()
	defer t.mu.Unlock()
	defer close(done)
	t.inflight = nil
	now := t.now()
	if err != nil {
		t.lastErr = err
		t.retryAt = now.Add(min(tokenRetryMin<<min(t.failures, 10), tokenRetryMax))
		t.failures++
		return
	}
	expiry := tr.Status.ExpirationTimestamp.Time
	if expiry.IsZero() || !expiry.After(now) {
		expiry = now.Add(TokenLifetime)
	}
	t.token, t.expiry, t.lastErr, t.failures, t.retryAt = tr.Status.Token, expiry, nil, 0, time.Time{}
	t.renewAt = now.Add(expiry.Sub(now) * 8 / 10)
}
