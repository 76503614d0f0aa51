//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	supervisorclient "github.com/selkie-dev/selkie/generated/client/supervisor/clientset/versioned"
	clientsecretv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/clientsecret/v1alpha1"
	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/config/v1alpha1"
)

const (
	testClientID       = "client.oauth.pinniped.dev-integration-app"
	testClientRedirect = "https://127.0.0.1:9999/callback"
)

// TestSupervisorOIDCClients generates a secret for an OIDCClient through the
// supervisor's aggregated API, logs in with that client through Dex's login form and
// redeems the code with client_secret_basic, then checks the secret limits.
func TestSupervisorOIDCClients(t *testing.T) {
	s, api := startOIDCClientSupervisor(t)
	ns := s.namespace
	waitOIDCClient(t, api, ns, configv1alpha1.OIDCClientPhaseError, 0)

	// The first secret through kubectl, as an administrator would.
	secret := kubectlSecretRequest(t, ns)
	waitOIDCClient(t, api, ns, configv1alpha1.OIDCClientPhaseReady, 1)
	// The API says Ready before the supervisor's cache has the new status and secret:
	// the client is unknown to the login endpoints until then (401), so wait for them.
	clientAccepted(t, s, secret, true)

	t.Run("authcode with client_secret_basic", func(t *testing.T) {
		code, p := clientBrowserLogin(t, s, "/fd1", "dex")
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testClientRedirect}, "code_verifier": {p.verifier}}
		if status, body := clientTokenRequest(t, s, form, "wrong-secret"); status != http.StatusUnauthorized || !strings.Contains(body, `"invalid_client"`) {
			t.Errorf("wrong secret: %d %s, want 401 invalid_client", status, body)
		}
		inBody := url.Values{"client_id": {testClientID}, "client_secret": {secret}}
		for k, v := range form {
			inBody[k] = v
		}
		if status, body := clientTokenRequest(t, s, inBody, ""); status != http.StatusUnauthorized || !strings.Contains(body, `"invalid_client"`) {
			t.Errorf("secret in the form body: %d %s, want 401 invalid_client", status, body)
		}
		status, body := clientTokenRequest(t, s, form, secret)
		var tokens tokenSet
		if err := json.Unmarshal([]byte(body), &tokens); status != http.StatusOK || err != nil || tokens.IDToken == "" || tokens.RefreshToken == "" {
			t.Fatalf("code exchange: %d %s", status, body)
		}
		idToken, err := s.verifier(t, "/fd1", testClientID).Verify(context.Background(), tokens.IDToken)
		if err != nil {
			t.Fatalf("verify the ID token: %v", err)
		}
		var claims supervisorClaims
		if err := idToken.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(idToken.Audience, []string{testClientID}) || claims.Username != testEnv.Users[0].Email {
			t.Errorf("ID token aud %v username %q, want [%s] %q", idToken.Audience, claims.Username, testClientID, testEnv.Users[0].Email)
		}
		status, body = clientTokenRequest(t, s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken}}, secret)
		var refreshed tokenSet
		if err := json.Unmarshal([]byte(body), &refreshed); status != http.StatusOK || err != nil || refreshed.IDToken == "" {
			t.Fatalf("refresh: %d %s", status, body)
		}
		s.verifyIDToken(t, "/fd1", testClientID, refreshed.IDToken)
	})

	t.Run("secret limits", func(t *testing.T) {
		ctx := testContext(t)
		requests := api.client.ClientSecretV1alpha1().OIDCClientSecretRequests(ns)
		newest := ""
		for want := int32(2); want <= clientsecretv1alpha1.MaxClientSecrets; want++ {
			got, err := requests.Create(ctx, secretRequest(true, false), metav1.CreateOptions{})
			if err != nil || got.Status.TotalClientSecrets != want || got.Status.GeneratedSecret == "" {
				t.Fatalf("secret %d: %+v, %v", want, got, err)
			}
			newest = got.Status.GeneratedSecret
		}
		// A new secret is usable within a second or two, and the first still works.
		clientAccepted(t, s, newest, true)
		clientAccepted(t, s, secret, true)

		_, err := requests.Create(ctx, secretRequest(true, false), metav1.CreateOptions{})
		want := fmt.Sprintf("OIDCClient %s has too many secrets, spec.revokeOldSecrets must be true", testClientID)
		if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("a sixth secret: %v, want 400 %q", err, want)
		}

		got, err := requests.Create(ctx, secretRequest(false, true), metav1.CreateOptions{})
		if err != nil || got.Status.TotalClientSecrets != 1 || got.Status.GeneratedSecret != "" {
			t.Fatalf("revokeOldSecrets: %+v, %v", got, err)
		}
		waitOIDCClient(t, api, ns, configv1alpha1.OIDCClientPhaseReady, 1)
		clientAccepted(t, s, secret, false)
		clientAccepted(t, s, newest, true)

		_, err = requests.Create(ctx, secretRequest(true, false), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if !apierrors.IsInvalid(err) {
			t.Errorf("dry run: %v, want 422", err)
		}
		_, err = api.client.ClientSecretV1alpha1().OIDCClientSecretRequests("default").Create(ctx, secretRequest(true, false), metav1.CreateOptions{})
		if !apierrors.IsBadRequest(err) {
			t.Errorf("another namespace: %v, want 400", err)
		}
		anonymous := supervisorclient.NewForConfigOrDie(rest.AnonymousClientConfig(adminConfig(t, testEnv.Management().Kubeconfig)))
		_, err = anonymous.ClientSecretV1alpha1().OIDCClientSecretRequests(ns).Create(ctx, secretRequest(true, false), metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) && !apierrors.IsUnauthorized(err) {
			t.Errorf("anonymous request: %v, want 403 or 401", err)
		}
		// The group speaks JSON only (docs/wire-contract.md §0.1).
		var status int
		err = api.client.ClientSecretV1alpha1().RESTClient().Post().Namespace(ns).Resource("oidcclientsecretrequests").
			SetHeader("Accept", "application/yaml").Body(secretRequest(false, false)).Do(ctx).StatusCode(&status).Error()
		if status != http.StatusNotAcceptable {
			t.Errorf("a request for YAML: %d %v, want 406", status, err)
		}
	})
}

// startOIDCClientSupervisor runs a supervisor with its aggregated API and a
// FederationDomain /fd1 on Dex, with the test OIDCClient (no secret yet).
func startOIDCClientSupervisor(t *testing.T) (*supervisor, *supervisorAPI) {
	t.Helper()
	s, api := startSupervisorWithAPI(t)
	s.dexDomain(t, false, oidcClientYAML(s.namespace))
	return s, api
}

func oidcClientYAML(ns string) string {
	return fmt.Sprintf(`apiVersion: config.supervisor.selkie.dev/v1alpha1
kind: OIDCClient
metadata: {name: %s, namespace: %s}
spec:
  allowedRedirectURIs: [%q]
  allowedGrantTypes: [authorization_code, refresh_token, "urn:ietf:params:oauth:grant-type:token-exchange"]
  allowedScopes: [openid, offline_access, "pinniped:request-audience", username, groups]
`, testClientID, ns, testClientRedirect)
}

func secretRequest(generate, revoke bool) *clientsecretv1alpha1.OIDCClientSecretRequest {
	return &clientsecretv1alpha1.OIDCClientSecretRequest{ObjectMeta: metav1.ObjectMeta{Name: testClientID},
		Spec: clientsecretv1alpha1.OIDCClientSecretRequestSpec{GenerateNewSecret: generate, RevokeOldSecrets: revoke}}
}

// kubectlSecretRequest generates a secret with kubectl create and returns it.
func kubectlSecretRequest(t *testing.T, ns string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "request.yaml")
	manifest := fmt.Sprintf("apiVersion: clientsecret.supervisor.selkie.dev/v1alpha1\nkind: OIDCClientSecretRequest\n"+
		"metadata: {name: %s, namespace: %s}\nspec: {generateNewSecret: true}\n", testClientID, ns)
	if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustKubectl(t, "create", "-f", path, "-o", "json")
	var got clientsecretv1alpha1.OIDCClientSecretRequest
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("kubectl create output: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(got.Status.GeneratedSecret) || got.Status.TotalClientSecrets != 1 {
		t.Fatalf("OIDCClientSecretRequest status %+v", got.Status)
	}
	return got.Status.GeneratedSecret
}

// waitOIDCClient waits for the OIDCClient's phase and secret count.
func waitOIDCClient(t *testing.T, api *supervisorAPI, ns string, phase configv1alpha1.OIDCClientPhase, total int32) {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("OIDCClient is %s with %d secrets", phase, total), func() (bool, error) {
		oc, err := api.client.ConfigV1alpha1().OIDCClients(ns).Get(testContext(t), testClientID, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return oc.Status.Phase == phase && oc.Status.TotalClientSecrets == total, fmt.Errorf("status %+v", oc.Status)
	})
}

// clientAccepted checks, within a few seconds, whether the token endpoint accepts the
// client with secret: it presents a made-up code, which an authenticated client gets
// invalid_grant for, and an unauthenticated one invalid_client.
func clientAccepted(t *testing.T, s *supervisor, secret string, want bool) {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {"sel_ac_made-up"}, "redirect_uri": {testClientRedirect}, "code_verifier": {newPKCE(t).verifier}}
	eventually(t, 5*time.Second, fmt.Sprintf("the client is accepted: %v", want), func() (bool, error) {
		status, body := clientTokenRequest(t, s, form, secret)
		accepted := status == http.StatusBadRequest && strings.Contains(body, `"invalid_grant"`)
		refused := status == http.StatusUnauthorized && strings.Contains(body, `"invalid_client"`)
		return (want && accepted) || (!want && refused), fmt.Errorf("%d %s", status, body)
	})
}

// clientTokenRequest posts form to the token endpoint, with HTTP Basic client
// credentials (RFC 6749 §2.3.1: form-encoded) when secret is not empty.
func clientTokenRequest(t *testing.T, s *supervisor, form url.Values, secret string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.issuer("/fd1")+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(url.QueryEscape(testClientID), url.QueryEscape(secret))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// clientBrowserLogin runs the authcode flow for the test client through Dex's login form
// (as browserLogin does for the CLI) and returns the code and its PKCE verifier.
func clientBrowserLogin(t *testing.T, s *supervisor, path, idp string) (string, pkce) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.caPEM)
	dexCA, err := os.ReadFile(testEnv.CABundle)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(dexCA)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), testClientRedirect) {
				return http.ErrUseLastResponse
			}
			return nil
		}}
	p := newPKCE(t)
	q := url.Values{"client_id": {testClientID}, "redirect_uri": {testClientRedirect}, "response_type": {"code"},
		"scope": {"openid offline_access pinniped:request-audience username groups"}, "state": {"state-1234567"},
		"nonce": {"nonce-1234567"}, "code_challenge": {p.challenge}, "code_challenge_method": {"S256"}, "pinniped_idp_name": {idp}}
	resp, err := browser.Get(s.issuer(path) + "/oauth2/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	action := regexp.MustCompile(`(?s)<form[^>]*method="post"[^>]*action="([^"]+)"`).FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || action == nil {
		t.Fatalf("expected Dex's login form at %s, got %d:\n%s", resp.Request.URL, resp.StatusCode, page)
	}
	target, err := resp.Request.URL.Parse(strings.ReplaceAll(string(action[1]), "&amp;", "&"))
	if err != nil {
		t.Fatal(err)
	}
	user := testEnv.Users[0]
	resp, err = browser.PostForm(target.String(), url.Values{"login": {user.Email}, "password": {user.Password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil || !strings.HasPrefix(loc.String(), testClientRedirect+"?") {
		t.Fatalf("after Dex's login form: %d at %s to %q, want a 303 to %s", resp.StatusCode, resp.Request.URL, resp.Header.Get("Location"), testClientRedirect)
	}
	if loc.Query().Get("state") != "state-1234567" || loc.Query().Get("code") == "" {
		t.Fatalf("redirect %s, want a code and the state", loc)
	}
	return loc.Query().Get("code"), p
}
