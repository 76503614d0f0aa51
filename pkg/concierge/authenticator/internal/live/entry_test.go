// SPDX-License-Identifier: Apache-2.0

package live_test

import (
	"context"
	"testing"

	k8sauthenticator "k8s.io/apiserver/pkg/authentication/authenticator"

	v1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator/internal/live"
)

type nopToken struct{}

func (nopToken) AuthenticateToken(context.Context, string) (*k8sauthenticator.Response, bool, error) {
	return nil, false, nil
}

func TestApply(t *testing.T) {
	t.Parallel()
	c := authenticator.NewCache()
	key := authenticator.Key{APIGroup: "g", Kind: "k", Name: "n"}
	closed := map[string]int{}
	entry := func(name string) *live.Entry {
		return live.NewEntry(nopToken{}, name, func() { closed[name]++ })
	}

	if got := live.Apply(c, key, false, nil); got != live.Unchanged {
		t.Errorf("removing an absent key = %v, want Unchanged", got)
	}
	if got := live.Apply(c, key, true, entry("one")); got != live.Stored {
		t.Errorf("storing = %v, want Stored", got)
	}
	if got := live.Apply(c, key, true, nil); got != live.Unchanged {
		t.Errorf("keeping = %v, want Unchanged", got)
	}
	if got := live.Apply(c, key, true, entry("two")); got != live.Stored || closed["one"] != 1 {
		t.Errorf("replacing = %v, closed %v; want Stored and the old entry closed", got, closed)
	}
	if e := live.Lookup(c, key); e == nil || e.Fingerprint() != "two" {
		t.Errorf("Lookup = %v, want entry two", e)
	}
	if got := live.Apply(c, key, false, entry("three")); got != live.Removed || closed["two"] != 1 {
		t.Errorf("invalidating = %v, closed %v; want Removed and the entry closed", got, closed)
	}
	if _, ok := c.Get(key); ok {
		t.Error("invalid key still in the cache")
	}
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	spec := v1alpha1.WebhookAuthenticatorSpec{Endpoint: "https://example.com"}
	fp := func(s v1alpha1.WebhookAuthenticatorSpec, ca []byte) string {
		t.Helper()
		f, err := live.Fingerprint(s, ca)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	base := fp(spec, []byte("ca"))
	if fp(spec, []byte("ca")) != base {
		t.Error("fingerprint is not stable")
	}
	if fp(spec, []byte("other ca")) == base {
		t.Error("fingerprint ignores the CA bundle")
	}
	if fp(v1alpha1.WebhookAuthenticatorSpec{Endpoint: "https://example.org"}, []byte("ca")) == base {
		t.Error("fingerprint ignores the spec")
	}
}
