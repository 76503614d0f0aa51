// SPDX-License-Identifier: Apache-2.0

package oidc_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/oauth2"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
	"github.com/selkie-dev/selkie/pkg/supervisor/upstream/oidc"
)

const redirectURI = "https://fd.example.com/issuer/callback"

// storedData mirrors the documented UpstreamData JSON.
type storedData struct {
	V                 int        `json:"v"`
	Iss               string     `json:"iss"`
	Sub               string     `json:"sub"`
	RefreshToken      string     `json:"refreshToken"`
	AccessToken       string     `json:"accessToken"`
	AccessTokenExpiry *time.Time `json:"accessTokenExpiry"`
}

func decodeData(t *testing.T, b []byte) storedData {
	t.Helper()
	var d storedData
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("UpstreamData %q: %v", b, err)
	}
	return d
}

func newProvider(t *testing.T, f *fakeUpstream, edit func(*oidc.Config)) upstream.RedirectIdentityProvider {
	t.Helper()
	client := f.srv.Client()
	d, err := oidc.Discover(context.Background(), f.issuer(), client)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	cfg := oidc.Config{
		Namespace: "selkie-supervisor", Name: "my-idp", UID: "uid-1",
		Discovery: d, HTTPClient: client, ClientID: testClientID, ClientSecret: testClientSecret,
		Claims: idpv1alpha1.OIDCClaims{Username: "email", Groups: "groups",
			AdditionalClaimMappings: map[string]string{"dept": "department", "absent": "nope"}},
	}
	if edit != nil {
		edit(&cfg)
	}
	p, err := oidc.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// codeLogin runs a code exchange for sub, whose upstream ID token carries nonce,
// passing exchangeNonce as the expected nonce.
func codeLogin(t *testing.T, f *fakeUpstream, p upstream.RedirectIdentityProvider, sub, nonce, exchangeNonce string) (*upstream.Identity, error) {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	code := f.newCode(sub, nonce, oauth2.S256ChallengeFromVerifier(verifier), redirectURI)
	return p.ExchangeCode(context.Background(), code, verifier, exchangeNonce, redirectURI)
}

func TestAuthorizeURL(t *testing.T) {
	t.Parallel()
	f := newFakeUpstream(t)
	tests := []struct {
		name       string
		scopes     []string
		params     []idpv1alpha1.Parameter
		wantScope  string
		wantParams map[string]string
	}{
		{name: "default scopes", wantScope: "openid offline_access email profile"},
		{
			name: "additional scopes and parameters", scopes: []string{"groups", "openid", "email"},
			params:    []idpv1alpha1.Parameter{{Name: "prompt", Value: "consent"}, {Name: "acr_values", Value: "mfa"}},
			wantScope: "openid groups email", wantParams: map[string]string{"prompt": "consent", "acr_values": "mfa"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newProvider(t, f, func(c *oidc.Config) {
				c.AdditionalScopes, c.AdditionalAuthorizeParameters = tc.scopes, tc.params
			})
			raw := p.AuthorizeURL(upstream.AuthorizeRequest{RedirectURI: redirectURI, State: "st", Nonce: "no", CodeChallenge: "ch"})
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := u.Scheme+"://"+u.Host+u.Path, f.issuer()+"/authorize"; got != want {
				t.Errorf("endpoint = %q, want %q", got, want)
			}
			want := map[string]string{
				"response_type": "code", "client_id": testClientID, "redirect_uri": redirectURI, "scope": tc.wantScope,
				"state": "st", "nonce": "no", "code_challenge": "ch", "code_challenge_method": "S256",
			}
			for k, v := range tc.wantParams {
				want[k] = v
			}
			got := map[string]string{}
			for k, v := range u.Query() {
				got[k] = strings.Join(v, "|")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("query (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewRejectsDisallowedParameter(t *testing.T) {
	t.Parallel()
	f := newFakeUpstream(t)
	d, err := oidc.Discover(context.Background(), f.issuer(), f.srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	_, err = oidc.New(oidc.Config{Discovery: d, HTTPClient: f.srv.Client(), ClientID: "a", ClientSecret: "b",
		AdditionalAuthorizeParameters: []idpv1alpha1.Parameter{{Name: "state", Value: "x"}}})
	if err == nil || !strings.Contains(err.Error(), "state") {
		t.Errorf("New error = %v, want one naming state", err)
	}
}

func TestExchangeCode(t *testing.T) {
	t.Parallel()
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	setClaim := func(k string, v any) func(string, map[string]any) {
		return func(_ string, c map[string]any) {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
	}
	full := &upstream.Identity{Subject: "alice", Username: "alice@example.com", Groups: []string{"admins", "devs"},
		AdditionalClaims: map[string]any{"dept": "eng"}}
	tests := []struct {
		name          string
		sub           string
		exchangeNonce string
		setup         func(f *fakeUpstream)
		config        func(c *oidc.Config)
		want          *upstream.Identity
		wantErr       string
		wantNoRefresh bool
	}{
		{name: "success", want: full},
		{name: "wrong nonce", exchangeNonce: "other-nonce", wantErr: "nonce does not match"},
		{name: "wrong audience", setup: func(f *fakeUpstream) { f.idToken = setClaim("aud", []string{"someone-else"}) }, wantErr: "audience"},
		{name: "bad signature", setup: func(f *fakeUpstream) { f.signingKey = otherKey }, wantErr: "verify upstream ID token"},
		{name: "expired ID token", config: func(c *oidc.Config) {
			c.Clock = func() time.Time { return time.Now().Add(2 * time.Hour) }
		}, wantErr: "expired"},
		{name: "email_verified false", setup: func(f *fakeUpstream) { f.idToken = setClaim("email_verified", false) }, wantErr: "not verified"},
		{name: "email_verified as a string", setup: func(f *fakeUpstream) { f.idToken = setClaim("email_verified", "true") }, wantErr: "not verified"},
		{name: "email_verified absent", setup: func(f *fakeUpstream) { f.idToken = setClaim("email_verified", nil) }, want: full},
		{name: "groups as a string", setup: func(f *fakeUpstream) { f.idToken = setClaim("groups", "admins") }, want: &upstream.Identity{
			Subject: "alice", Username: "alice@example.com", Groups: []string{"admins"}, AdditionalClaims: map[string]any{"dept": "eng"}}},
		{name: "groups invalid", setup: func(f *fakeUpstream) { f.idToken = setClaim("groups", 42) }, wantErr: "not a string or a list"},
		{name: "groups list with a number", setup: func(f *fakeUpstream) { f.idToken = setClaim("groups", []any{"a", 1}) }, wantErr: "element 1"},
		{name: "groups absent without userinfo", setup: func(f *fakeUpstream) {
			f.idToken, f.noUserinfo = setClaim("groups", nil), true
		}, want: &upstream.Identity{Subject: "alice", Username: "alice@example.com", AdditionalClaims: map[string]any{"dept": "eng"}}},
		{name: "groups merged from userinfo", setup: func(f *fakeUpstream) {
			f.idToken = setClaim("groups", nil)
			f.userinfo = func(c map[string]any) { c["groups"] = []string{"from-userinfo"} }
		}, want: &upstream.Identity{Subject: "alice", Username: "alice@example.com", Groups: []string{"from-userinfo"},
			AdditionalClaims: map[string]any{"dept": "eng"}}},
		{name: "userinfo about another user", setup: func(f *fakeUpstream) {
			f.idToken = setClaim("groups", nil)
			f.userinfo = func(c map[string]any) { c["sub"] = "mallory" }
		}, wantErr: "another user"},
		{name: "username claim absent", setup: func(f *fakeUpstream) {
			f.idToken, f.noUserinfo = setClaim("email", nil), true
		}, wantErr: `no username claim "email"`},
		{name: "username claim not a string", setup: func(f *fakeUpstream) { f.idToken = setClaim("email", []string{"x"}) }, wantErr: "not a non-empty string"},
		{name: "default username", sub: "a b/c?d", config: func(c *oidc.Config) { c.Claims = idpv1alpha1.OIDCClaims{} },
			want: &upstream.Identity{Subject: "a b/c?d", Username: "ISSUER?sub=a+b%2Fc%3Fd"}},
		{name: "no refresh token but userinfo", setup: func(f *fakeUpstream) {
			f.response = func(_ string, r map[string]any) { delete(r, "refresh_token") }
		}, want: full, wantNoRefresh: true},
		{name: "no refresh token and no userinfo", setup: func(f *fakeUpstream) {
			f.noUserinfo = true
			f.response = func(_ string, r map[string]any) { delete(r, "refresh_token") }
		}, wantErr: "no refresh token"},
		{name: "no ID token", setup: func(f *fakeUpstream) {
			f.response = func(_ string, r map[string]any) { delete(r, "id_token") }
		}, wantErr: "no id_token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeUpstream(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			p := newProvider(t, f, tc.config)
			sub := tc.sub
			if sub == "" {
				sub = "alice"
			}
			nonce := tc.exchangeNonce
			if nonce == "" {
				nonce = "the-nonce"
			}
			got, err := codeLogin(t, f, p, sub, "the-nonce", nonce)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ExchangeCode error = %v, want one containing %q", err, tc.wantErr)
				}
				f.assertNoSecrets(t, err.Error())
				return
			}
			if err != nil {
				t.Fatalf("ExchangeCode: %v", err)
			}
			want := *tc.want
			want.Username = strings.Replace(want.Username, "ISSUER", f.issuer(), 1)
			if diff := cmp.Diff(&want, got, cmpopts.IgnoreFields(upstream.Identity{}, "UpstreamData")); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			d := decodeData(t, got.UpstreamData)
			if d.V != 1 || d.Iss != f.issuer() || d.Sub != sub || d.AccessToken == "" || d.AccessTokenExpiry == nil {
				t.Errorf("UpstreamData = %+v", d)
			}
			if (d.RefreshToken == "") != tc.wantNoRefresh {
				t.Errorf("UpstreamData refresh token present = %v, want %v", d.RefreshToken != "", !tc.wantNoRefresh)
			}
		})
	}
}

func TestExchangeCodeWrongVerifier(t *testing.T) {
	t.Parallel()
	f := newFakeUpstream(t)
	p := newProvider(t, f, nil)
	code := f.newCode("alice", "n", oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier()), redirectURI)
	_, err := p.ExchangeCode(context.Background(), code, oauth2.GenerateVerifier(), "n", redirectURI)
	var tokenErr *oidc.TokenEndpointError
	if !errors.As(err, &tokenErr) || tokenErr.Code != "invalid_grant" || tokenErr.StatusCode != 400 {
		t.Fatalf("ExchangeCode error = %v, want a 400 invalid_grant TokenEndpointError", err)
	}
	f.assertNoSecrets(t, err.Error())
}

func TestLogin(t *testing.T) {
	t.Parallel()
	f := newFakeUpstream(t)

	p := newProvider(t, f, func(c *oidc.Config) { c.AllowPasswordGrant = true })
	if diff := cmp.Diff([]string{upstream.FlowBrowserAuthcode, upstream.FlowCLIPassword}, p.Flows()); diff != "" {
		t.Errorf("Flows (-want +got):\n%s", diff)
	}
	pw, ok := p.(upstream.PasswordIdentityProvider)
	if !ok {
		t.Fatal("provider with allowPasswordGrant is not a PasswordIdentityProvider")
	}
	got, err := pw.Login(context.Background(), "alice", "alice-password")
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	want := &upstream.Identity{Subject: "alice", Username: "alice@example.com", Groups: []string{"admins", "devs"},
		AdditionalClaims: map[string]any{"dept": "eng"}}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(upstream.Identity{}, "UpstreamData")); diff != "" {
		t.Errorf("identity (-want +got):\n%s", diff)
	}

	for _, password := range []string{"wrong", ""} {
		_, err = pw.Login(context.Background(), "alice", password)
		if !errors.Is(err, upstream.ErrBadCredentials) {
			t.Errorf("Login with password %q: error = %v, want ErrBadCredentials", password, err)
		}
	}
	f.assertNoSecrets(t, err.Error())

	noPassword := newProvider(t, f, nil)
	if _, ok := noPassword.(upstream.PasswordIdentityProvider); ok {
		t.Error("provider without allowPasswordGrant is a PasswordIdentityProvider")
	}
	if diff := cmp.Diff([]string{upstream.FlowBrowserAuthcode}, noPassword.Flows()); diff != "" {
		t.Errorf("Flows (-want +got):\n%s", diff)
	}
}

func TestDownstreamSubject(t *testing.T) {
	t.Parallel()
	f := newFakeUpstream(t)
	p := newProvider(t, f, nil)
	got := p.DownstreamSubject("My IdP/1", &upstream.Identity{Subject: "u&1=2"})
	if want := f.issuer() + "?idpName=My+IdP%2F1&sub=u%261%3D2"; got != want {
		t.Errorf("DownstreamSubject = %q, want %q", got, want)
	}
	if p.Type() != upstream.TypeOIDC || p.Namespace() != "selkie-supervisor" || p.Name() != "my-idp" || p.UID() != "uid-1" {
		t.Errorf("identity of provider = %s %s/%s %s", p.Type(), p.Namespace(), p.Name(), p.UID())
	}
}
