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
	c.Store(jwt, staticToken("t"))
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
