//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
)

// TestSupervisorDexAndLDAPSideBySide serves one FederationDomain with an OIDC (Dex) and
// an LDAP (slapd) identity provider: IdP discovery lists both with their flows, a
// browser without a choice gets the chooser, and each login lands in its own `sub`
// space.
func TestSupervisorDexAndLDAPSideBySide(t *testing.T) {
	s := startSupervisor(t)
	ns, l := s.namespace, testEnv.LDAP
	caPEM, err := os.ReadFile(testEnv.CABundle)
	if err != nil {
		t.Fatal(err)
	}
	fd := fmt.Sprintf(`apiVersion: config.supervisor.selkie.dev/v1alpha1
kind: FederationDomain
metadata: {name: fd1, namespace: %s}
spec:
  issuer: %q
  identityProviders:
  - displayName: corp-ldap
    objectRef: {apiGroup: idp.supervisor.selkie.dev, kind: LDAPIdentityProvider, name: ldap}
  - displayName: okta
    objectRef: {apiGroup: idp.supervisor.selkie.dev, kind: OIDCIdentityProvider, name: dex}
`, ns, s.issuer("/fd1"))
	manifest := dexIdPYAML(ns, "dex", true) + "---\n" + basicAuthSecretYAML(ns, "ldap-bind", l.BindDN, l.BindPassword) + "---\n" +
		ldapIdP{name: "ldap", host: l.LDAPSAddr, bindSecret: "ldap-bind"}.yaml(ns, caPEM) + "---\n" + fd
	if err := applyYAML(testEnv.Management().Kubeconfig, manifest); err != nil {
		t.Fatal(err)
	}
	var doc oidcprovider.IDPDiscovery
	eventually(t, 60*time.Second, "IdP discovery lists both identity providers", func() (bool, error) {
		err := s.getJSON(s.issuer("/fd1")+oidcprovider.PathIDPs, &doc)
		return err == nil && len(doc.IdentityProviders) == 2, fmt.Errorf("%v %+v", err, doc)
	})
	want := []oidcprovider.IDPDiscoveryEntry{
		{Name: "corp-ldap", Type: "ldap", Flows: []string{"cli_password", "browser_authcode"}},
		{Name: "okta", Type: "oidc", Flows: []string{"browser_authcode", "cli_password"}},
	}
	if diff := cmp.Diff(want, doc.IdentityProviders); diff != "" {
		t.Errorf("IdP discovery (-want +got):\n%s", diff)
	}

	t.Run("the chooser offers both", func(t *testing.T) {
		p := newPKCE(t)
		q := url.Values{"client_id": {oidcprovider.CLIClientID}, "redirect_uri": {cliRedirect}, "response_type": {"code"},
			"scope": {"openid username groups"}, "state": {"state-1234567"}, "code_challenge": {p.challenge}, "code_challenge_method": {"S256"}}
		resp, err := s.client.Get(s.issuer("/fd1") + "/oauth2/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		chooser := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(chooser, s.issuer("/fd1")+"/choose_identity_provider?") {
			t.Fatalf("authorize without an IdP: %d %s, want a 303 to the chooser", resp.StatusCode, chooser)
		}
		resp, err = s.client.Get(chooser)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ldapLink, oktaLink := strings.Index(string(page), "pinniped_idp_name=corp-ldap"), strings.Index(string(page), "pinniped_idp_name=okta")
		if resp.StatusCode != http.StatusOK || ldapLink < 0 || oktaLink < ldapLink {
			t.Errorf("chooser page %d:\n%s", resp.StatusCode, page)
		}
	})

	t.Run("each login has its own sub space", func(t *testing.T) {
		pinny := testEnv.Users[0]
		viaLDAP := s.verifyIDToken(t, "/fd1", oidcprovider.CLIClientID, s.passwordLogin(t, "/fd1", "corp-ldap", pinny.Username, pinny.Password).IDToken)
		viaOkta := s.verifyIDToken(t, "/fd1", oidcprovider.CLIClientID, s.passwordLogin(t, "/fd1", "okta", pinny.Email, pinny.Password).IDToken)
		if !strings.HasPrefix(viaLDAP.Subject, "ldaps://"+l.LDAPSAddr+"?") || !strings.Contains(viaLDAP.Subject, "idpName=corp-ldap") {
			t.Errorf("LDAP sub %q", viaLDAP.Subject)
		}
		if !strings.HasPrefix(viaOkta.Subject, testEnv.Dex.Issuer+"?idpName=okta&sub=") {
			t.Errorf("OIDC sub %q", viaOkta.Subject)
		}
		if viaLDAP.Subject == viaOkta.Subject {
			t.Error("the same person through two identity providers got the same sub")
		}
		if viaLDAP.Username != pinny.Username || viaOkta.Username != pinny.Email {
			t.Errorf("usernames %q and %q", viaLDAP.Username, viaOkta.Username)
		}
	})
}
