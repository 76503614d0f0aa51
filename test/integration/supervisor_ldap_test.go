//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	idpv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/idp/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
)

// ldapIdP is an LDAPIdentityProvider of the environment's slapd, with users found by uid.
type ldapIdP struct {
	name, host, bindSecret                    string
	groupFilter, userAttrForFilter, groupName string
}

func (i ldapIdP) yaml(ns string, caPEM []byte) string {
	return fmt.Sprintf(`apiVersion: idp.supervisor.selkie.dev/v1alpha1
kind: LDAPIdentityProvider
metadata: {name: %s, namespace: %s}
spec:
  host: %q
  tls: {certificateAuthorityData: %q}
  bind: {secretName: %s}
  userSearch:
    base: %q
    filter: "uid={}"
    attributes: {username: uid, uid: uidNumber}
  groupSearch:
    base: %q
    filter: %q
    userAttributeForFilter: %q
    attributes: {groupName: %q}
`, i.name, ns, i.host, base64.StdEncoding.EncodeToString(caPEM), i.bindSecret, testEnv.LDAP.UsersDN, testEnv.LDAP.GroupsDN,
		i.groupFilter, i.userAttrForFilter, i.groupName)
}

func basicAuthSecretYAML(ns, name, username, password string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: %s, namespace: %s}\ntype: kubernetes.io/basic-auth\nstringData: {username: %q, password: %q}\n",
		name, ns, username, password)
}

// ldapFederationDomainYAML is a FederationDomain at issuer using the named
// LDAPIdentityProviders (displayName = name).
func ldapFederationDomainYAML(ns, name, issuer string, idps ...string) string {
	y := fmt.Sprintf("apiVersion: config.supervisor.selkie.dev/v1alpha1\nkind: FederationDomain\nmetadata: {name: %s, namespace: %s}\nspec:\n  issuer: %q\n  identityProviders:\n",
		name, ns, issuer)
	for _, idp := range idps {
		y += fmt.Sprintf("  - displayName: %s\n    objectRef: {apiGroup: idp.supervisor.selkie.dev, kind: LDAPIdentityProvider, name: %s}\n", idp, idp)
	}
	return y
}

// TestSupervisorWithLDAP logs in through LDAPIdentityProviders of the environment's
// slapd: one over LDAPS with groupOfNames groups named by DN, one over StartTLS with
// posixGroup groups named by cn. The steps that change the directory use a user and
// groups the test creates (and deletes), never the shared users.
func TestSupervisorWithLDAP(t *testing.T) {
	s := startSupervisor(t)
	ns := s.namespace
	l := testEnv.LDAP
	caPEM, err := os.ReadFile(testEnv.CABundle)
	if err != nil {
		t.Fatal(err)
	}
	idps := []ldapIdP{
		{name: "ldap", host: l.LDAPSAddr, bindSecret: "ldap-bind"},
		{name: "ldap-posix", host: l.StartTLSAddr, bindSecret: "ldap-bind", groupFilter: "(&(objectClass=posixGroup)(memberUid={}))",
			userAttrForFilter: "uid", groupName: "cn"},
		{name: "ldap-wrong-bind", host: l.LDAPSAddr, bindSecret: "ldap-wrong-bind"},
		{name: "ldap-no-secret", host: l.LDAPSAddr, bindSecret: "missing"},
	}
	manifest := basicAuthSecretYAML(ns, "ldap-bind", l.BindDN, l.BindPassword) + "---\n" +
		basicAuthSecretYAML(ns, "ldap-wrong-bind", l.BindDN, "not-the-password") + "---\n" +
		ldapFederationDomainYAML(ns, "fd", s.issuer("/fd"), "ldap", "ldap-posix")
	for _, idp := range idps {
		manifest += "---\n" + idp.yaml(ns, caPEM)
	}
	if err := applyYAML(testEnv.Management().Kubeconfig, manifest); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "FederationDomain /fd lists both LDAP IdPs", func() (bool, error) {
		var doc oidcprovider.IDPDiscovery
		err := s.getJSON(s.issuer("/fd")+oidcprovider.PathIDPs, &doc)
		return err == nil && len(doc.IdentityProviders) == 2, fmt.Errorf("%v %+v", err, doc)
	})
	pinny, _ := testEnv.User("pinny")
	wally, _ := testEnv.User("wally")
	admin := ldapAdmin(t)

	t.Run("status and discovery", func(t *testing.T) { testLDAPStatus(t, s) })
	t.Run("password flow, groupOfNames, refresh, exchange", func(t *testing.T) {
		tokens := s.passwordLogin(t, "/fd", "ldap", pinny.Username, pinny.Password)
		groups := []string{"cn=pinnipeds," + l.GroupsDN, "cn=seals," + l.GroupsDN}
		testSupervisorTokens(t, s, "/fd", tokens, pinny.Username, groups)
		claims := s.verifyIDToken(t, "/fd", oidcprovider.CLIClientID, tokens.IDToken)
		uid := admin.attribute(t, l.UsersDN, "uid="+pinny.Username, "uidNumber")
		want := "ldaps://" + l.LDAPSAddr + "?" + url.Values{"base": {l.UsersDN}, "idpName": {"ldap"},
			"sub": {base64.RawURLEncoding.EncodeToString([]byte(uid))}}.Encode()
		if claims.Subject != want {
			t.Errorf("sub %q, want %q", claims.Subject, want)
		}
	})
	t.Run("password flow, posixGroup over StartTLS", func(t *testing.T) {
		for _, tc := range []struct {
			user   string
			pw     string
			groups []string
		}{{pinny.Username, pinny.Password, []string{"ball-players"}}, {wally.Username, wally.Password, nil}} {
			tokens := s.passwordLogin(t, "/fd", "ldap-posix", tc.user, tc.pw)
			claims := s.verifyIDToken(t, "/fd", oidcprovider.CLIClientID, tokens.IDToken)
			if claims.Username != tc.user || !slices.Equal(claims.Groups, tc.groups) ||
				!strings.HasPrefix(claims.Subject, "ldaps://"+l.StartTLSAddr+"?base=") {
				t.Errorf("claims %+v, want username %q groups %v", claims, tc.user, tc.groups)
			}
		}
	})
	t.Run("browser login form", func(t *testing.T) {
		tokens := s.ldapBrowserLogin(t, "/fd", "ldap", wally.Username, wally.Password)
		claims := s.verifyIDToken(t, "/fd", oidcprovider.CLIClientID, tokens.IDToken)
		if claims.Username != wally.Username || !slices.Equal(claims.Groups, []string{"cn=pinnipeds," + l.GroupsDN}) {
			t.Errorf("claims %+v", claims)
		}
	})
	t.Run("wrong password and filter injection", func(t *testing.T) {
		for _, tc := range []struct{ user, pw string }{
			{pinny.Username, "wrong"}, {pinny.Username, wally.Password}, {"nobody", pinny.Password},
			{"*", pinny.Password}, {"*)(uid=*", pinny.Password}, {"pinny)(|(uid=*", pinny.Password}, {"admin)(|(uid=*", pinny.Password},
			{"pinny*", pinny.Password}, {"*))(|(objectClass=*", wally.Password},
		} {
			loc := s.authorize(t, "/fd", url.Values{"pinniped_idp_name": {"ldap"}}, tc.user, tc.pw, newPKCE(t))
			if loc.Query().Get("error") != "access_denied" || loc.Query().Get("code") != "" {
				t.Errorf("username %q: redirect %s, want error=access_denied and no code", tc.user, loc)
			}
		}
	})
	t.Run("refresh follows the directory", func(t *testing.T) { testLDAPRefresh(t, s, admin) })
}

func testLDAPStatus(t *testing.T, s *supervisor) {
	var idps map[string]any
	if err := s.getJSON(s.issuer("/fd")+oidcprovider.PathIDPs, &idps); err != nil {
		t.Fatal(err)
	}
	flows := []any{"cli_password", "browser_authcode"}
	want := []any{map[string]any{"name": "ldap", "type": "ldap", "flows": flows}, map[string]any{"name": "ldap-posix", "type": "ldap", "flows": flows}}
	if got := idps["pinniped_identity_providers"]; !jsonEqual(got, want) {
		t.Errorf("IdP discovery %v, want %v", got, want)
	}
	for _, tc := range []struct {
		name, phase, wantMessage string
		want                     map[string]string
	}{
		{"ldap", "Ready", "using LDAPS", map[string]string{"BindSecretValid": "True Success", "TLSConfigurationValid": "True Success", "LDAPConnectionValid": "True Success"}},
		{"ldap-posix", "Ready", "using StartTLS", map[string]string{"BindSecretValid": "True Success", "TLSConfigurationValid": "True Success", "LDAPConnectionValid": "True Success"}},
		{"ldap-wrong-bind", "Error", "Invalid Credentials", map[string]string{"BindSecretValid": "True Success", "TLSConfigurationValid": "True Success", "LDAPConnectionValid": "False LDAPConnectionError"}},
		{"ldap-no-secret", "Error", `"missing" not found`, map[string]string{"BindSecretValid": "False SecretNotFound", "TLSConfigurationValid": "True Success", "LDAPConnectionValid": "Unknown UnableToValidate"}},
	} {
		var idp idpv1alpha1.LDAPIdentityProvider
		eventually(t, 30*time.Second, "LDAPIdentityProvider "+tc.name+" is "+tc.phase, func() (bool, error) {
			out, _, err := kubectl(t, "get", "ldapidentityprovider.idp.supervisor.selkie.dev", "-n", s.namespace, tc.name, "-o", "json")
			if err != nil {
				return false, err
			}
			if err := json.Unmarshal([]byte(out), &idp); err != nil {
				return false, err
			}
			return string(idp.Status.Phase) == tc.phase, fmt.Errorf("status %+v", idp.Status)
		})
		got, messages := map[string]string{}, ""
		for _, c := range idp.Status.Conditions {
			got[c.Type] = string(c.Status) + " " + c.Reason
			messages += c.Message + "\n"
		}
		if !jsonEqual(got, tc.want) || !strings.Contains(messages, tc.wantMessage) || strings.Contains(messages, testEnv.LDAP.BindPassword) {
			t.Errorf("%s: conditions %v, messages:\n%s", tc.name, got, messages)
		}
	}
}

// testLDAPRefresh logs in a user of its own, then removes it from a group and deletes it.
func testLDAPRefresh(t *testing.T, s *supervisor, admin *ldapAdminConn) {
	l := testEnv.LDAP
	suffix := randomHex(t, 4)
	user, pw := "selkie-it-"+suffix, randomHex(t, 12)
	userDN := "uid=" + user + "," + l.UsersDN
	groupA, groupB := "cn=selkie-it-"+suffix+"-a,"+l.GroupsDN, "cn=selkie-it-"+suffix+"-b,"+l.GroupsDN
	admin.add(t, userDN, map[string][]string{"objectClass": {"inetOrgPerson", "posixAccount"}, "uid": {user}, "cn": {user}, "sn": {user},
		"uidNumber": {fmt.Sprint(70000 + time.Now().UnixNano()%10000)}, "gidNumber": {"7000"}, "homeDirectory": {"/home/" + user}, "userPassword": {pw}})
	for _, g := range []string{groupA, groupB} {
		cn := strings.TrimPrefix(strings.Split(g, ",")[0], "cn=")
		// groupOfNames needs a member: a placeholder stays when the user leaves.
		admin.add(t, g, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {cn}, "member": {userDN, "cn=placeholder," + l.GroupsDN}})
	}

	tokens := s.passwordLogin(t, "/fd", "ldap", user, pw)
	if claims := s.verifyIDToken(t, "/fd", oidcprovider.CLIClientID, tokens.IDToken); !slices.Equal(claims.Groups, []string{groupA, groupB}) {
		t.Fatalf("groups at login %v, want %v", claims.Groups, []string{groupA, groupB})
	}
	modify := ldap.NewModifyRequest(groupB, nil)
	modify.Delete("member", []string{userDN})
	admin.modify(t, modify)

	refreshed, status, header, body := s.ldapRefresh(t, "/fd", tokens.RefreshToken)
	if status != http.StatusOK {
		t.Fatalf("refresh after leaving a group: %d %s", status, body)
	}
	if claims := s.verifyIDToken(t, "/fd", oidcprovider.CLIClientID, refreshed.IDToken); !slices.Equal(claims.Groups, []string{groupA}) {
		t.Errorf("groups after refresh %v, want %v", claims.Groups, []string{groupA})
	}
	wantWarning := fmt.Sprintf(`299 - "User \"%s\" has been removed from the following groups: [\"%s\"]"`, user, groupB)
	if warnings := header.Values("Warning"); !slices.Contains(warnings, wantWarning) {
		t.Errorf("Warning headers %q, want %q", warnings, wantWarning)
	}

	admin.del(t, userDN)
	if _, status, _, body := s.ldapRefresh(t, "/fd", refreshed.RefreshToken); status != http.StatusUnauthorized ||
		!strings.Contains(body, `"error":"error"`) || !strings.Contains(body, "Error during upstream refresh") {
		t.Errorf("refresh after the user was deleted: %d %s, want 401 error", status, body)
	}
	loc := s.authorize(t, "/fd", url.Values{"pinniped_idp_name": {"ldap"}}, user, pw, newPKCE(t))
	if loc.Query().Get("error") != "access_denied" {
		t.Errorf("login of the deleted user: %s, want access_denied", loc)
	}
}

// ldapRefresh runs the refresh grant for pinniped-cli and returns the tokens, status, headers and body.
func (s *supervisor) ldapRefresh(t *testing.T, path, refreshToken string) (*tokenSet, int, http.Header, string) {
	t.Helper()
	resp, err := s.client.PostForm(s.issuer(path)+"/oauth2/token", url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {refreshToken}, "client_id": {oidcprovider.CLIClientID}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var tokens tokenSet
	_ = json.Unmarshal(body, &tokens)
	return &tokens, resp.StatusCode, resp.Header, string(body)
}

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]+)">`)
	formState  = regexp.MustCompile(`<input type="hidden" name="state" value="([^"]+)">`)
)

// alertWrongPW is the login form's alert after a refused username or password.
const alertWrongPW = "Incorrect username or password."

// ldapBrowserLogin drives the browser flow through the supervisor's login form over
// HTTP with a cookie jar: first with a wrong password (the form comes back with an
// alert), then with the right one.
func (s *supervisor) ldapBrowserLogin(t *testing.T, path, idp, username, password string) *tokenSet {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := s.clientVia(s.addr)
	browser.Jar = jar
	browser.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), cliRedirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	p := newPKCE(t)
	q := url.Values{"client_id": {oidcprovider.CLIClientID}, "redirect_uri": {cliRedirect}, "response_type": {"code"},
		"scope": {"openid offline_access pinniped:request-audience username groups"}, "state": {"state-1234567"},
		"nonce": {"nonce-1234567"}, "code_challenge": {p.challenge}, "code_challenge_method": {"S256"}, "pinniped_idp_name": {idp}}
	page, at := browserGet(t, browser, s.issuer(path)+"/oauth2/authorize?"+q.Encode())
	if at.Path != "/fd/login" || strings.Contains(page, alertWrongPW) {
		t.Fatalf("expected the login form at %s/login, got %s:\n%s", s.issuer(path), at, page)
	}
	submit := func(page, pw string) *http.Response {
		action, state := formAction.FindStringSubmatch(page), formState.FindStringSubmatch(page)
		if action == nil || state == nil {
			t.Fatalf("no login form:\n%s", page)
		}
		target, err := at.Parse(action[1])
		if err != nil {
			t.Fatal(err)
		}
		resp, err := browser.PostForm(target.String(), url.Values{"state": {state[1]}, "username": {username}, "password": {pw}})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := submit(page, "wrong-"+password)
	again, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Query().Get("err") != "incorrect_username_or_password" ||
		!strings.Contains(string(again), alertWrongPW) {
		t.Fatalf("after a wrong password: %d at %s:\n%s", resp.StatusCode, resp.Request.URL, again)
	}
	resp = submit(string(again), password)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the login form: %d at %s, want a 303 to the CLI", resp.StatusCode, resp.Request.URL)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return s.redeem(t, path, loc, p)
}

func browserGet(t *testing.T, browser *http.Client, u string) (string, *url.URL) {
	t.Helper()
	resp, err := browser.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d at %s\n%s", u, resp.StatusCode, resp.Request.URL, body)
	}
	return string(body), resp.Request.URL
}

// ldapAdminConn is a connection to slapd bound as its admin, for changing the directory.
type ldapAdminConn struct{ conn *ldap.Conn }

func ldapAdmin(t *testing.T) *ldapAdminConn {
	t.Helper()
	l := testEnv.LDAP
	host, _, err := net.SplitHostPort(l.StartTLSAddr)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := ldap.DialURL("ldap://" + l.StartTLSAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	cfg := caTLS(t, testEnv.CABundle)
	cfg.ServerName = host
	if err := conn.StartTLS(cfg); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	if err := conn.Bind(l.BindDN, l.BindPassword); err != nil {
		t.Fatalf("bind as the LDAP admin: %v", err)
	}
	conn.SetTimeout(30 * time.Second)
	return &ldapAdminConn{conn: conn}
}

// add creates an entry, deleted when the test ends (if it still exists).
func (a *ldapAdminConn) add(t *testing.T, dn string, attrs map[string][]string) {
	t.Helper()
	req := ldap.NewAddRequest(dn, nil)
	for k, v := range attrs {
		req.Attribute(k, v)
	}
	if err := a.conn.Add(req); err != nil {
		t.Fatalf("add %s: %v", dn, err)
	}
	t.Cleanup(func() {
		if err := a.conn.Del(ldap.NewDelRequest(dn, nil)); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			t.Logf("delete %s: %v", dn, err)
		}
	})
}

func (a *ldapAdminConn) modify(t *testing.T, req *ldap.ModifyRequest) {
	t.Helper()
	if err := a.conn.Modify(req); err != nil {
		t.Fatalf("modify %s: %v", req.DN, err)
	}
}

func (a *ldapAdminConn) del(t *testing.T, dn string) {
	t.Helper()
	if err := a.conn.Del(ldap.NewDelRequest(dn, nil)); err != nil {
		t.Fatalf("delete %s: %v", dn, err)
	}
}

// attribute returns the single value of attr of the one entry under base matching filter.
func (a *ldapAdminConn) attribute(t *testing.T, base, filter, attr string) string {
	t.Helper()
	res, err := a.conn.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 10, false,
		"("+filter+")", []string{attr}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("search %s under %s: %v", filter, base, err)
	}
	return res.Entries[0].GetAttributeValue(attr)
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
