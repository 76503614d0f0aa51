// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-ldap/ldap/v3"
	"golang.org/x/oauth2"
)

// TestDexIssuesTokensWithGroups checks the upstream OIDC provider: discovery answers over
// TLS with the environment's CA, and a password-grant ID token for a static user verifies
// against Dex's JWKS and carries the user's groups.
func TestDexIssuesTokensWithGroups(t *testing.T) {
	t.Parallel()
	ctx := oidc.ClientContext(testContext(t), &http.Client{
		Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: caTLS(t, testEnv.CABundle)},
	})
	provider, err := oidc.NewProvider(ctx, testEnv.Dex.Issuer)
	if err != nil {
		t.Fatalf("discovery of %s: %v", testEnv.Dex.Issuer, err)
	}
	var discovery struct {
		CodeChallengeMethods []string `json:"code_challenge_methods_supported"`
	}
	if err := provider.Claims(&discovery); err != nil || !slices.Contains(discovery.CodeChallengeMethods, "S256") {
		t.Errorf("discovery: code_challenge_methods_supported = %v (%v), want S256", discovery.CodeChallengeMethods, err)
	}

	user, ok := testEnv.User("pinny")
	if !ok {
		t.Fatal("no test user pinny")
	}
	conf := &oauth2.Config{
		ClientID: testEnv.Dex.ClientID, ClientSecret: testEnv.Dex.ClientSecret,
		Endpoint: provider.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "groups", "email", "profile"},
	}
	tok, err := conf.PasswordCredentialsToken(ctx, user.Email, user.Password)
	if err != nil {
		t.Fatalf("password grant for %s: %v", user.Email, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idToken, err := provider.Verifier(&oidc.Config{ClientID: testEnv.Dex.ClientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	var claims struct {
		Email  string   `json:"email"`
		Groups []string `json:"groups"`
	}
	if err := idToken.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Email != user.Email || !slices.Equal(claims.Groups, user.Groups) {
		t.Errorf("ID token email %q groups %v, want %q %v", claims.Email, claims.Groups, user.Email, user.Groups)
	}

	if _, err := conf.PasswordCredentialsToken(ctx, user.Email, "not-"+user.Password); err == nil {
		t.Error("password grant with a wrong password succeeded")
	}
}

// TestLDAPStartTLSBindAndGroupSearch does what an LDAP identity provider does at login,
// over StartTLS and LDAPS: service bind, user search, user bind, group search across
// groupOfNames (by DN) and posixGroup (by uid). A plaintext bind must be refused.
func TestLDAPStartTLSBindAndGroupSearch(t *testing.T) {
	t.Parallel()
	user, _ := testEnv.User("pinny")
	tlsConfig := caTLS(t, testEnv.CABundle)
	tlsConfig.ServerName = "127.0.0.1"
	dial := map[string]func() (*ldap.Conn, error){
		"starttls": func() (*ldap.Conn, error) {
			conn, err := ldap.DialURL("ldap://" + testEnv.LDAP.StartTLSAddr)
			if err != nil {
				return nil, err
			}
			return conn, conn.StartTLS(tlsConfig)
		},
		"ldaps": func() (*ldap.Conn, error) {
			return ldap.DialURL("ldaps://"+testEnv.LDAP.LDAPSAddr, ldap.DialWithTLSConfig(tlsConfig))
		},
	}
	for mode, dial := range dial {
		t.Run(mode, func(t *testing.T) {
			conn, err := dial()
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer conn.Close()
			conn.SetTimeout(10 * time.Second)
			groups, err := ldapLogin(conn, user.Username, user.Password)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"ball-players", "pinnipeds", "seals"}; !slices.Equal(groups, want) {
				t.Errorf("groups of %s = %v, want %v", user.Username, groups, want)
			}
			if err := conn.Bind(ldapUserDN(user.Username), "not-"+user.Password); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
				t.Errorf("bind with a wrong password: %v, want invalid credentials (49)", err)
			}
		})
	}

	t.Run("plaintext bind refused", func(t *testing.T) {
		conn, err := ldap.DialURL("ldap://" + testEnv.LDAP.StartTLSAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		err = conn.Bind(testEnv.LDAP.BindDN, testEnv.LDAP.BindPassword)
		if !ldap.IsErrorWithCode(err, ldap.LDAPResultConfidentialityRequired) {
			t.Errorf("plaintext bind: %v, want confidentiality required (13)", err)
		}
	})

	t.Run("untrusted certificate refused", func(t *testing.T) {
		conn, err := ldap.DialURL("ldap://" + testEnv.LDAP.StartTLSAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// go-ldap flattens the TLS error into its own, so match the text.
		err = conn.StartTLS(&tls.Config{ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
		if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
			t.Errorf("StartTLS trusting only system roots: %v, want an unknown-authority error", err)
		}
	})
}

func ldapUserDN(uid string) string { return "uid=" + ldap.EscapeDN(uid) + "," + testEnv.LDAP.UsersDN }

func ldapLogin(conn *ldap.Conn, username, password string) ([]string, error) {
	if err := conn.Bind(testEnv.LDAP.BindDN, testEnv.LDAP.BindPassword); err != nil {
		return nil, fmt.Errorf("service bind: %w", err)
	}
	users, err := conn.SearchWithPaging(ldap.NewSearchRequest(testEnv.LDAP.UsersDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, 10, false, "(&(objectClass=inetOrgPerson)(uid="+ldap.EscapeFilter(username)+"))", []string{"uid", "mail"}, nil), 10)
	if err != nil {
		return nil, fmt.Errorf("user search: %w", err)
	}
	if len(users.Entries) != 1 {
		return nil, fmt.Errorf("user search found %d entries, want 1", len(users.Entries))
	}
	dn := users.Entries[0].DN
	if err := conn.Bind(dn, password); err != nil {
		return nil, fmt.Errorf("user bind: %w", err)
	}
	filter := fmt.Sprintf("(|(&(objectClass=groupOfNames)(member=%s))(&(objectClass=posixGroup)(memberUid=%s)))",
		ldap.EscapeFilter(dn), ldap.EscapeFilter(username))
	found, err := conn.Search(ldap.NewSearchRequest(testEnv.LDAP.GroupsDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, 10, false, filter, []string{"cn"}, nil))
	if err != nil {
		return nil, fmt.Errorf("group search: %w", err)
	}
	var groups []string
	for _, g := range found.Entries {
		groups = append(groups, g.GetAttributeValue("cn"))
	}
	slices.Sort(groups)
	return groups, nil
}
