// SPDX-License-Identifier: Apache-2.0

package impersonationproxy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	ktesting "k8s.io/client-go/testing"
)

func TestTokenSource(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	kube := fake.NewClientset(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sa", Namespace: "ns"}})
	n, fail, clock := 0, false, now
	kube.PrependReactor("create", "serviceaccounts", func(a ktesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "token" {
			return false, nil, nil
		}
		if fail {
			return true, nil, errors.New("boom")
		}
		n++
		req := a.(ktesting.CreateAction).GetObject().(*authenticationv1.TokenRequest)
		if *req.Spec.ExpirationSeconds != int64(TokenLifetime.Seconds()) {
			t.Errorf("requested %d seconds", *req.Spec.ExpirationSeconds)
		}
		return true, &authenticationv1.TokenRequest{Status: authenticationv1.TokenRequestStatus{
			Token: "token-" + string(rune('0'+n)), ExpirationTimestamp: metav1.NewTime(clock.Add(TokenLifetime))}}, nil
	})
	ts := &TokenSource{Kube: kube, Namespace: "ns", ServiceAccount: "sa", Clock: func() time.Time { return clock }}
	steps := []struct {
		after   time.Duration
		fail    bool
		want    string
		wantErr bool
	}{
		{want: "token-1"},
		{after: time.Hour, want: "token-1"},                    // cached
		{after: 19 * time.Hour, want: "token-1"},               // before 80% of 24 h
		{after: 20 * time.Hour, fail: true, want: "token-1"},   // renewal fails in the background, still valid
		{after: 20 * time.Hour, want: "token-1"},               // within the back-off: no new attempt
		{after: 20*time.Hour + 2*time.Second, want: "token-1"}, // renewal starts; the cached token serves meanwhile
		{after: 20*time.Hour + 2*time.Second, want: "token-2"}, // renewed
		{after: 39 * time.Hour, want: "token-2"},               // cached
		{after: 45 * time.Hour, fail: true, wantErr: true},     // renewal fails and the token expired
	}
	for i, st := range steps {
		clock, fail = now.Add(st.after), st.fail
		got, err := ts.Token(context.Background())
		if (err != nil) != st.wantErr || got != st.want {
			t.Errorf("step %d: %q %v, want %q", i, got, err, st.want)
		}
		settle(ts)
	}
}

// settle waits for the TokenRequest in flight, if any.
func settle(ts *TokenSource) {
	ts.mu.Lock()
	ch := ts.inflight
	ts.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

// blockingTokens is a fake API whose TokenRequests wait for release.
type blockingTokens struct {
	kube    *fake.Clientset
	calls   atomic.Int32
	release chan struct{}
	fail    atomic.Bool
}

func newBlockingTokens(clock func() time.Time) *blockingTokens {
	b := &blockingTokens{kube: fake.NewClientset(), release: make(chan struct{})}
	b.kube.PrependReactor("create", "serviceaccounts", func(ktesting.Action) (bool, runtime.Object, error) {
		n := b.calls.Add(1)
		if n > 1 { // the first token comes at once; renewals wait
			<-b.release
		}
		if b.fail.Load() {
			return true, nil, errors.New("TokenRequest failed")
		}
		return true, &authenticationv1.TokenRequest{Status: authenticationv1.TokenRequestStatus{
			Token: fmt.Sprintf("token-%d", n), ExpirationTimestamp: metav1.NewTime(clock().Add(TokenLifetime))}}, nil
	})
	return b
}

// tokenWithin calls Token and fails the test if it does not return within a generous
// bound: the point is that it does not wait for a renewal at all.
func tokenWithin(t *testing.T, ts *TokenSource, ctx context.Context) (string, error) {
	t.Helper()
	type result struct {
		tok string
		err error
	}
	ch := make(chan result, 1)
	go func() { tok, err := ts.Token(ctx); ch <- result{tok, err} }()
	select {
	case r := <-ch:
		return r.tok, r.err
	case <-time.After(10 * time.Second):
		t.Fatal("Token blocked on a renewal although the cached token is valid")
		return "", nil
	}
}

func TestTokenRenewalDoesNotBlockRequests(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	api := newBlockingTokens(now)
	ts := &TokenSource{Kube: api.kube, Namespace: "ns", ServiceAccount: "sa", Clock: now}
	if tok, err := ts.Token(context.Background()); err != nil || tok != "token-1" {
		t.Fatalf("first token: %q %v", tok, err)
	}
	mu.Lock()
	clock = clock.Add(20 * time.Hour) // past 80% of the lifetime: renewal is due
	mu.Unlock()
	// The request that notices renewal is due goes away at once; the renewal must not
	// run on its context.
	gone, cancel := context.WithCancel(context.Background())
	if tok, err := tokenWithin(t, ts, gone); err != nil || tok != "token-1" {
		t.Fatalf("while renewal is due: %q %v", tok, err)
	}
	cancel()
	for range 50 { // concurrent requests during the slow renewal
		if tok, err := tokenWithin(t, ts, context.Background()); err != nil || tok != "token-1" {
			t.Fatalf("during the renewal: %q %v", tok, err)
		}
	}
	close(api.release)
	deadline := time.Now().Add(10 * time.Second)
	for {
		tok, err := ts.Token(context.Background())
		if err == nil && tok == "token-2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the renewal never landed: %q %v", tok, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := api.calls.Load(); n != 2 {
		t.Errorf("%d TokenRequests, want 2 (one renewal for all the requests)", n)
	}
}

func TestTokenRenewalFailureBacksOff(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	api := newBlockingTokens(now)
	close(api.release)
	ts := &TokenSource{Kube: api.kube, Namespace: "ns", ServiceAccount: "sa", Clock: now}
	if _, err := ts.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	api.fail.Store(true)
	mu.Lock()
	clock = clock.Add(25 * time.Hour) // expired: every request needs a new token
	mu.Unlock()
	for range 20 {
		if _, err := tokenWithin(t, ts, context.Background()); err == nil || !strings.Contains(err.Error(), "TokenRequest failed") {
			t.Fatalf("error %v, want the TokenRequest's", err)
		}
	}
	if n := api.calls.Load(); n != 2 {
		t.Errorf("%d TokenRequests for 20 requests within the back-off, want 2", n)
	}
}
