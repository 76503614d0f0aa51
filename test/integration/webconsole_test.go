//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
)

// webConsoleClientID is the OIDCClient the test's web console logs users in as.
const webConsoleClientID = "client.oauth.pinniped.dev-web-console"

// webConsole is a minimal web console, as Headlamp or the Kubernetes Dashboard behave: it
// logs the browser in at the supervisor as an OIDCClient (authorization code, PKCE, client
// secret), then calls the cluster's API through the impersonation proxy with the ID token
// as its bearer token, and shows what it got.
type webConsole struct {
	t           testing.TB
	srv         *httptest.Server
	issuer      string
	secret      string
	supervisor  *http.Client
	proxyURL    string
	proxy       *http.Client
	mu          sync.Mutex
	state       string
	verifier    string
	lastIDToken string
	redirectURI string
}

func startWebConsole(t *testing.T, s *supervisor, secret, proxyURL string, proxyCA []byte) *webConsole {
	t.Helper()
	proxyPool := x509.NewCertPool()
	proxyPool.AppendCertsFromPEM(proxyCA)
	c := &webConsole{t: t, issuer: s.issuer("/fd1"), secret: secret, supervisor: s.client, proxyURL: proxyURL,
		proxy: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: proxyPool, MinVersion: tls.VersionTLS12}}}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", c.login)
	mux.HandleFunc("GET /callback", c.callback)
	c.srv = httptest.NewServer(mux)
	t.Cleanup(c.srv.Close)
	c.redirectURI = c.srv.URL + "/callback"
	return c
}

// login sends the browser to the supervisor's authorize endpoint.
func (c *webConsole) login(w http.ResponseWriter, r *http.Request) {
	state, p := randomURLString(), newPKCE(c.t)
	c.mu.Lock()
	c.state, c.verifier = state, p.verifier
	c.mu.Unlock()
	q := url.Values{"client_id": {webConsoleClientID}, "redirect_uri": {c.redirectURI}, "response_type": {"code"},
		"scope": {"openid offline_access username groups"}, "state": {state}, "nonce": {randomURLString()},
		"code_challenge": {p.challenge}, "code_challenge_method": {"S256"}, "pinniped_idp_name": {"dex"}}
	http.Redirect(w, r, c.issuer+"/oauth2/authorize?"+q.Encode(), http.StatusFound)
}

// callback redeems the code with the client secret and shows the namespaces the proxy
// lists for the ID token, and the status of a request RBAC does not allow.
func (c *webConsole) callback(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	state, verifier := c.state, c.verifier
	c.mu.Unlock()
	show := func(text string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>console</title><p id=\"result\">%s</p>", html.EscapeString(text))
	}
	if r.URL.Query().Get("state") != state || state == "" {
		show("error: state mismatch")
		return
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {r.URL.Query().Get("code")},
		"redirect_uri": {c.redirectURI}, "code_verifier": {verifier}}
	req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, c.issuer+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(webConsoleClientID), url.QueryEscape(c.secret))
	resp, err := c.supervisor.Do(req)
	if err != nil {
		show("error: token request: " + err.Error())
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var tokens struct {
		IDToken string `json:"id_token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tokens) != nil || tokens.IDToken == "" {
		show(fmt.Sprintf("error: token response %d %s", resp.StatusCode, body))
		return
	}
	c.mu.Lock()
	c.lastIDToken = tokens.IDToken
	c.mu.Unlock()
	status, listBody := c.get(r.Context(), tokens.IDToken, "/api/v1/namespaces")
	var list struct {
		Items []struct {
			Metadata struct{ Name string } `json:"metadata"`
		} `json:"items"`
	}
	if status != http.StatusOK || json.Unmarshal([]byte(listBody), &list) != nil {
		show(fmt.Sprintf("error: list namespaces %d %s", status, listBody))
		return
	}
	var names []string
	for _, item := range list.Items {
		names = append(names, item.Metadata.Name)
	}
	secretsStatus, _ := c.get(r.Context(), tokens.IDToken, "/api/v1/namespaces/kube-system/secrets")
	show(fmt.Sprintf("namespaces: %s; secrets: %d", strings.Join(names, ","), secretsStatus))
}

// get calls the proxy with token as the bearer token.
func (c *webConsole) get(ctx context.Context, token, path string) (int, string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.proxyURL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.proxy.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (c *webConsole) idToken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastIDToken
}

func randomURLString() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func webConsoleClientYAML(ns, redirect string) string {
	return fmt.Sprintf(`apiVersion: config.supervisor.selkie.dev/v1alpha1
kind: OIDCClient
metadata: {name: %s, namespace: %s}
spec:
  allowedRedirectURIs: [%q]
  allowedGrantTypes: [authorization_code, refresh_token]
  allowedScopes: [openid, offline_access, username, groups]
`, webConsoleClientID, ns, redirect)
}

// TestWebConsoleThroughImpersonationProxy is a web console on a cluster whose API server
// knows nothing of the supervisor (no --oidc-* flags, no signing key for the concierge):
// a browser logs in through the console, the console's ID token (audience: its client
// ID) reaches the cluster through the impersonation proxy, which authenticates it with a
// JWTAuthenticator for that audience, and the console lists what RBAC allows the user's
// groups. A token for another audience is refused, and nested impersonation is still
// authorized as the token's user.
func TestWebConsoleThroughImpersonationProxy(t *testing.T) {
	s, api := startSupervisorWithAPI(t)
	kubeconfig, proxyInfo := startProxyConcierge(t)
	proxyCA, err := base64.StdEncoding.DecodeString(proxyInfo.CertificateAuthorityData)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	// The console's redirect URI names its port, so it starts before its OIDCClient; the
	// secret is set once the client exists.
	console := startWebConsole(t, s, "", proxyInfo.Endpoint, proxyCA)
	// Password logins are allowed for the CLI's token of another audience below.
	s.dexDomain(t, true, webConsoleClientYAML(s.namespace, console.redirectURI))
	req := secretRequest(true, false)
	req.Name = webConsoleClientID
	got, err := api.client.ClientSecretV1alpha1().OIDCClientSecretRequests(s.namespace).Create(ctx, req, metav1.CreateOptions{})
	if err != nil || got.Status.GeneratedSecret == "" {
		t.Fatalf("client secret: %v %+v", err, got)
	}
	console.secret = got.Status.GeneratedSecret
	// An extra, which no client certificate could carry, travels through the proxy.
	createSupervisorJWTAuthenticatorIn(t, kubeconfig, s.issuer("/fd1"), webConsoleClientID, s.caPEM, func(spec *authenticationv1alpha1.JWTAuthenticatorSpec) {
		spec.Claims.Extra = []authenticationv1alpha1.ExtraMapping{{Key: "console.selkie.dev/issuer", ValueExpression: "claims.iss"}}
	})
	bindGroupNamespaceReader(t, ctx, kubernetes.NewForConfigOrDie(adminConfig(t, kubeconfig)), "seals")

	// The supervisor learns the new client and its secret within a few seconds: a made-up
	// code is then invalid_grant rather than invalid_client.
	eventually(t, 30*time.Second, "the supervisor knows the console's client", func() (bool, error) {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {"sel_ac_made-up"}, "redirect_uri": {console.redirectURI},
			"code_verifier": {newPKCE(t).verifier}}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.issuer("/fd1")+"/oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(webConsoleClientID), url.QueryEscape(console.secret))
		resp, err := s.client.Do(req)
		if err != nil {
			return false, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusBadRequest && strings.Contains(string(body), "invalid_grant"), fmt.Errorf("%d %s", resp.StatusCode, body)
	})
	pinny := testEnv.Users[0]
	bctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	result := browseUntil(t, bctx, console.srv.URL+"/", pinny.Email, pinny.Password, "result", s.addr, dexAddr(t))
	t.Logf("the console shows: %s", result)
	if !strings.Contains(result, "kube-system") || !strings.HasSuffix(result, "secrets: 403") {
		t.Errorf("console shows %q; want the namespaces (kube-system among them) and 403 for secrets", result)
	}

	idToken := console.idToken()
	if status, body := console.get(ctx, idToken, "/api/v1/namespaces/default"); status != http.StatusOK {
		t.Errorf("the ID token at the proxy: %d %s", status, body)
	}
	// Who the API server thinks the console's user is: the mapped username, groups and extra.
	review, _ := http.NewRequestWithContext(ctx, http.MethodPost, proxyInfo.Endpoint+"/apis/authentication.k8s.io/v1/selfsubjectreviews",
		strings.NewReader(`{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}`))
	review.Header.Set("Authorization", "Bearer "+idToken)
	review.Header.Set("Content-Type", "application/json")
	reviewResp, err := console.proxy.Do(review)
	if err != nil {
		t.Fatal(err)
	}
	reviewBody, _ := io.ReadAll(reviewResp.Body)
	reviewResp.Body.Close()
	var self authenticationv1.SelfSubjectReview
	if err := json.Unmarshal(reviewBody, &self); err != nil || reviewResp.StatusCode != http.StatusCreated {
		t.Fatalf("SelfSubjectReview through the proxy: %d %s", reviewResp.StatusCode, reviewBody)
	}
	ui := self.Status.UserInfo
	if ui.Username != pinny.Email || !slices.Contains(ui.Groups, "seals") || !slices.Equal(ui.Extra["console.selkie.dev/issuer"], []string{s.issuer("/fd1")}) {
		t.Errorf("the API server sees %+v; want %s in seals with the issuer as extra console.selkie.dev/issuer", ui, pinny.Email)
	}
	// The same user's token for another audience (the CLI's client) is refused.
	cliTokens := s.passwordLogin(t, "/fd1", "dex", pinny.Email, pinny.Password)
	if status, body := console.get(ctx, cliTokens.IDToken, "/api/v1/namespaces"); status != http.StatusUnauthorized {
		t.Errorf("an ID token for another audience: %d %s, want 401", status, body)
	}
	// Nested impersonation with the console's token is authorized as the user, who may not.
	nested, _ := http.NewRequestWithContext(ctx, http.MethodGet, proxyInfo.Endpoint+"/api/v1/namespaces", nil)
	nested.Header.Set("Authorization", "Bearer "+idToken)
	nested.Header.Set("Impersonate-User", "admin")
	resp, err := console.proxy.Do(nested)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("impersonating admin with the console's token: %d, want 403", resp.StatusCode)
	}
}
