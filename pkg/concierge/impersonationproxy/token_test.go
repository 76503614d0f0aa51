// SPDX-License-Identifier: Apache-2.0

package impersonationproxy

import (
	"context"
	"errors"
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
		{after: time.Hour, want: "token-1"},                  // cached
		{after: 19 * time.Hour, want: "token-1"},             // before 80% of 24 h
		{after: 20 * time.Hour, fail: true, want: "token-1"}, // renewal fails, still valid
		{after: 20 * time.Hour, want: "token-2"},             // renewed after 80%
		{after: 39 * time.Hour, want: "token-2"},             // cached
		{after: 45 * time.Hour, fail: true, wantErr: true},   // renewal fails and the token expired
	}
	for i, st := range steps {
		clock, fail = now.Add(st.after), st.fail
		got, err := ts.Token(context.Background())
		if (err != nil) != st.wantErr || got != st.want {
			t.Errorf("step %d: %q %v, want %q", i, got, err, st.want)
		}
	}
}
