// SPDX-License-Identifier: Apache-2.0

package authenticator

import (
	"context"
	"testing"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
)

type staticToken string

func (s staticToken) AuthenticateToken(_ context.Context, token string) (*authenticator.Response, bool, error) {
	if token != string(s) {
		return nil, false, nil
	}
	return &authenticator.Response{User: &user.DefaultInfo{Name: "u"}}, true, nil
}

func TestCache(t *testing.T) {
	t.Parallel()
	c := NewCache()
	jwt := Key{APIGroup: "authentication.concierge.selkie.dev", Kind: "JWTAuthenticator", Name: "supervisor"}
	if _, ok := c.Get(jwt); ok {
		t.Fatal("empty cache returned an authenticator")
	}
	c.Set(jwt, staticToken("t"))
	got, ok := c.Get(jwt)
	if !ok {
		t.Fatal("stored authenticator not found")
	}
	if _, ok, _ := got.AuthenticateToken(context.Background(), "t"); !ok {
		t.Error("stored authenticator does not authenticate")
	}
	// Lookups are exact: another kind or group with the same name is a different key.
	for _, k := range []Key{
		{APIGroup: jwt.APIGroup, Kind: "WebhookAuthenticator", Name: "supervisor"},
		{APIGroup: "authentication.concierge.pinniped.dev", Kind: "JWTAuthenticator", Name: "supervisor"},
	} {
		if _, ok := c.Get(k); ok {
			t.Errorf("Get(%+v) found the authenticator stored under %+v", k, jwt)
		}
	}
	if len(c.Keys()) != 1 {
		t.Errorf("Keys() = %v", c.Keys())
	}
	c.Delete(jwt)
	if _, ok := c.Get(jwt); ok {
		t.Error("deleted authenticator still found")
	}
}

// TestCacheClosesWhatItDrops checks that a replaced or deleted authenticator's
// background work is stopped, and that storing the same one again keeps it running.
func TestCacheClosesWhatItDrops(t *testing.T) {
	t.Parallel()
	c := NewCache()
	key := Key{APIGroup: "g", Kind: "JWTAuthenticator", Name: "n"}
	stopped := map[string]int{}
	token := func(name string) Token { return Closing(staticToken(name), func() { stopped[name]++ }) }
	one, two := token("one"), token("two")
	c.Set(key, one)
	c.Set(key, one)
	if stopped["one"] != 0 {
		t.Fatal("storing the same authenticator again stopped it")
	}
	c.Set(key, two)
	if stopped["one"] != 1 || stopped["two"] != 0 {
		t.Errorf("replacing: stopped %v, want one stopped once", stopped)
	}
	if got, _ := c.Get(key); got != two {
		t.Error("the replacement is not the live authenticator")
	}
	if _, ok, _ := two.AuthenticateToken(context.Background(), "two"); !ok {
		t.Error("a Closing authenticator does not authenticate")
	}
	c.Delete(key)
	c.Delete(key)
	if stopped["two"] != 1 {
		t.Errorf("deleting twice stopped two %d times, want 1", stopped["two"])
	}
}
