//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
	"github.com/selkie-dev/selkie/test/env"
)

// TestSupervisorWithActiveDirectory logs in through an ActiveDirectoryIdentityProvider
// of a separate slapd with an Active Directory shaped schema and data (test/env
// ActiveDirectoryOptions; the environment's slapd is not touched).
//
// What is simulated: slapd is not Active Directory. It stores sAMAccountName,
// userPrincipalName, objectGUID (binary), pwdLastSet, userAccountControl and
// msDS-User-Account-Control-Computed as plain attributes (AD computes the last one),
// serves defaultNamingContext from a rootDSE file, and accepts binds of disabled or
// locked accounts (AD refuses them). It does not implement the matching rule in chain
// 1.2.840.113556.1.4.1941, so spec.groupSearch.filter is a plain
// "(&(objectClass=group)(member={}))": only direct memberships are found here (the
// nested group is asserted absent). The default in-chain filter and transitive
// membership, objectGUID rendering edge cases, domain derivation and search base
// errors are covered by the unit tests in pkg/supervisor/upstream/ldap only.
//
// What is real: the supervisor's controller (conditions, SearchBaseFound from the root
// DSE with both bases empty), the default user filter, userPrincipalName usernames,
// the objectGUID `sub`, sAMAccountName@domain group names, and refresh failing after
// each account change an administrator makes.
func TestSupervisorWithActiveDirectory(t *testing.T) {
	s := startSupervisor(t)
	ns := s.namespace
	dir := t.TempDir()
	ca, err := env.NewCA(dir, "ad-ca", "selkie AD test CA")
	if err != nil {
		t.Fatal(err)
	}
	// objectGUID a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90 in AD's mixed-endian binary form.
	guid := []byte("\xd4\xc3\xb2\xa1\xf6\xe5\x18\x07\x29\x3a\x4b\x5c\x6d\x7e\x8f\x90")
	const pw = "pinny-ad-pw"
	users := []env.ADUser{{SAMAccountName: "pinny", Password: pw, ObjectGUID: guid}, {SAMAccountName: "wally", Password: "wally-ad-pw"}}
	groups := []env.ADGroup{{SAMAccountName: "seals", Members: []string{"pinny"}}, {SAMAccountName: "ops", Members: []string{"pinny", "wally"}},
		{SAMAccountName: "marine-mammals", Members: []string{"group:seals"}}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := env.StartLDAPWith(ctx, dir, ca, env.ActiveDirectoryOptions(users, groups))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)

	manifest := basicAuthSecretYAML(ns, "ad-bind", l.AdminDN, l.AdminPassword) + "---\n" + fmt.Sprintf(`apiVersion: idp.supervisor.selkie.dev/v1alpha1
kind: ActiveDirectoryIdentityProvider
metadata: {name: ad, namespace: %s}
spec:
  host: %q
  tls: {certificateAuthorityData: %q}
  bind: {secretName: ad-bind}
  groupSearch:
    # OpenLDAP has no 1.2.840.113556.1.4.1941 (matching rule in chain): direct members only.
    filter: "(&(objectClass=group)(member={}))"
---
apiVersion: config.supervisor.selkie.dev/v1alpha1
kind: FederationDomain
metadata: {name: fd, namespace: %s}
spec:
  issuer: %q
  identityProviders:
  - displayName: ad
    objectRef: {apiGroup: idp.supervisor.selkie.dev, kind: ActiveDirectoryIdentityProvider, name: ad}
`, ns, l.LDAPSAddr, base64.StdEncoding.EncodeToString(ca.CertPEM), ns, s.issuer("/fd"))
	if err := applyYAML(testEnv.Management().Kubeconfig, manifest); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "FederationDomain /fd lists the AD IdP", func() (bool, error) {
		var doc map[string]any
		err := s.getJSON(s.issuer("/fd")+oidcprovider.PathIDPs, &doc)
		want := []any{map[string]any{"name": "ad", "type": "activedirectory", "flows": []any{"cli_password", "browser_authcode"}}}
		return err == nil && jsonEqual(doc["pinniped_identity_providers"], want), fmt.Errorf("%v %v", err, doc)
	})
	testADStatus(t, s, l)

	wantGroups := []string{"ops@corp.example.com", "seals@corp.example.com"}
	t.Run("password login", func(t *testing.T) {
		// sAMAccountName and userPrincipalName both find the user (default filter).
		for _, typed := range []string{"pinny", "pinny@corp.example.com"} {
			tokens := s.passwordLogin(t, "/fd", "ad", typed, pw)
			claims := s.verifyIDToken(t, "/fd", oidcprovider.CLIClientID, tokens.IDToken)
			wantSub := "ldaps://" + l.LDAPSAddr + "?" + url.Values{"base": {env.ActiveDirectoryBaseDN}, "idpName": {"ad"},
				"sub": {"a1b2c3d4-e5f6-0718-293a-4b5c6d7e8f90"}}.Encode()
			if claims.Username != "pinny@corp.example.com" || !slices.Equal(claims.Groups, wantGroups) || claims.Subject != wantSub {
				t.Errorf("typed %q: claims %+v, want username pinny@corp.example.com, groups %v, sub %q", typed, claims, wantGroups, wantSub)
			}
		}
		loc := s.authorize(t, "/fd", url.Values{"pinniped_idp_name": {"ad"}}, "pinny", "wrong", newPKCE(t))
		if loc.Query().Get("error") != "access_denied" {
			t.Errorf("wrong password: %s, want access_denied", loc)
		}
	})

	admin := adAdmin(t, l)
	pinnyDN := l.ADUserDN("pinny")
	for _, tc := range []struct {
		name            string
		attr, bad, good string
	}{
		{"disabled (userAccountControl 0x2)", "userAccountControl", "514", "512"},
		{"password changed (pwdLastSet)", "pwdLastSet", "133600000000000000", ""},
		{"locked (msDS-User-Account-Control-Computed 0x10)", "msDS-User-Account-Control-Computed", "16", "0"},
	} {
		t.Run("refresh fails when "+tc.name, func(t *testing.T) {
			tokens := s.passwordLogin(t, "/fd", "ad", "pinny", pw)
			refreshed, status, _, body := s.ldapRefresh(t, "/fd", tokens.RefreshToken)
			if status != http.StatusOK {
				t.Fatalf("refresh of an unchanged account: %d %s", status, body)
			}
			adReplace(t, admin, pinnyDN, tc.attr, tc.bad)
			if tc.good != "" {
				defer adReplace(t, admin, pinnyDN, tc.attr, tc.good)
			}
			if _, status, _, body := s.ldapRefresh(t, "/fd", refreshed.RefreshToken); status != http.StatusUnauthorized ||
				!strings.Contains(body, "Error during upstream refresh") {
				t.Errorf("refresh: %d %s, want 401 upstream refresh error", status, body)
			}
		})
	}
}

func testADStatus(t *testing.T, s *supervisor, l *env.LDAP) {
	t.Helper()
	var idp idpv1alpha1.ActiveDirectoryIdentityProvider
	eventually(t, 30*time.Second, "ActiveDirectoryIdentityProvider ad is Ready", func() (bool, error) {
		out, _, err := kubectl(t, "get", "activedirectoryidentityprovider.idp.supervisor.selkie.dev", "-n", s.namespace, "ad", "-o", "json")
		if err != nil {
			return false, err
		}
		if err := json.Unmarshal([]byte(out), &idp); err != nil {
			return false, err
		}
		return idp.Status.Phase == idpv1alpha1.ActiveDirectoryPhaseReady, fmt.Errorf("status %+v", idp.Status)
	})
	got, messages := map[string]string{}, ""
	for _, c := range idp.Status.Conditions {
		got[c.Type] = string(c.Status) + " " + c.Reason
		messages += c.Message + "\n"
	}
	want := map[string]string{"BindSecretValid": "True Success", "TLSConfigurationValid": "True Success",
		"LDAPConnectionValid": "True Success", "SearchBaseFound": "True Success"}
	if !jsonEqual(got, want) || !strings.Contains(messages, env.ActiveDirectoryBaseDN) || strings.Contains(messages, l.AdminPassword) {
		t.Errorf("conditions %v, want %v; messages:\n%s", got, want, messages)
	}
}

func adAdmin(t *testing.T, l *env.LDAP) *ldap.Conn {
	t.Helper()
	conn, err := l.Dial()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Bind(l.AdminDN, l.AdminPassword); err != nil {
		t.Fatal(err)
	}
	return conn
}

func adReplace(t *testing.T, conn *ldap.Conn, dn, attr, value string) {
	t.Helper()
	req := ldap.NewModifyRequest(dn, nil)
	req.Replace(attr, []string{value})
	if err := conn.Modify(req); err != nil {
		t.Fatalf("set %s of %s: %v", attr, dn, err)
	}
}
