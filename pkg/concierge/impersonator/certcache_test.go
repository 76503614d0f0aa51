// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
)

// countingAuthenticator succeeds unless fail is set, and counts its calls.
type countingAuthenticator struct {
	calls int
	fail  bool
}

func (a *countingAuthenticator) AuthenticateRequest(*http.Request) (*authenticator.Response, bool, error) {
	a.calls++
	if a.fail {
		return nil, false, errors.New("x509: certificate signed by unknown authority")
	}
	return &authenticator.Response{User: &user.DefaultInfo{Name: "alice", Groups: []string{"devs"}}}, true, nil
}

func TestCachedCertAuthenticator(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	certFor := func(raw string, notAfter time.Time) *http.Request {
		return &http.Request{TLS: &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{Raw: []byte(raw), NotAfter: notAfter}}}}
	}
	long, short := now.Add(time.Hour), now.Add(10*time.Second)
	type step struct {
		advance   time.Duration
		req       *http.Request
		bundle    string
		fail      bool
		wantOK    bool
		wantCalls int // delegate calls so far
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"verified once per certificate", []step{
			{req: certFor("a", long), bundle: "ca1", wantOK: true, wantCalls: 1},
			{req: certFor("a", long), bundle: "ca1", wantOK: true, wantCalls: 1},
			{req: certFor("b", long), bundle: "ca1", wantOK: true, wantCalls: 2},
		}},
		{"a CA change verifies again", []step{
			{req: certFor("a", long), bundle: "ca1", wantOK: true, wantCalls: 1},
			{req: certFor("a", long), bundle: "ca2", fail: true, wantCalls: 2},
			{req: certFor("a", long), bundle: "ca2", fail: true, wantCalls: 3},
		}},
		{"never past the cache TTL", []step{
			{req: certFor("a", long), bundle: "ca1", wantOK: true, wantCalls: 1},
			{advance: certCacheTTL + time.Second, req: certFor("a", long), bundle: "ca1", wantOK: true, wantCalls: 2},
		}},
		{"never past the certificate's expiry", []step{
			{req: certFor("a", short), bundle: "ca1", wantOK: true, wantCalls: 1},
			{advance: 11 * time.Second, req: certFor("a", short), bundle: "ca1", fail: true, wantCalls: 2},
		}},
		{"failures are not remembered", []step{
			{req: certFor("a", long), bundle: "ca1", fail: true, wantCalls: 1},
			{req: certFor("a", long), bundle: "ca1", wantOK: true, wantCalls: 2},
		}},
		{"no certificate", []step{{req: &http.Request{}, bundle: "ca1", wantCalls: 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			delegate, clock, bundle := &countingAuthenticator{}, now, ""
			c := newCachedCertAuthenticator(delegate, func() []byte { return []byte(bundle) }, func() time.Time { return clock })
			for i, s := range tt.steps {
				clock, bundle, delegate.fail = clock.Add(s.advance), s.bundle, s.fail
				resp, ok, _ := c.AuthenticateRequest(s.req)
				if ok != s.wantOK || delegate.calls != s.wantCalls {
					t.Fatalf("step %d: ok=%v after %d verifications, want ok=%v after %d", i, ok, delegate.calls, s.wantOK, s.wantCalls)
				}
				if ok {
					if diff := cmp.Diff(&user.DefaultInfo{Name: "alice", Groups: []string{"devs"}}, resp.User, cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("step %d: user (-want +got):\n%s", i, diff)
					}
					resp.User.(*user.DefaultInfo).Groups[0] = "changed by a caller"
				}
			}
		})
	}
}
