//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/selkie-dev/selkie/pkg/certauthority"
)

// TestCLIAcrossClustersAndOverTime follows one user's login as the product is used:
// one login serves two workload clusters (session reuse and token exchange per
// audience), cached certificates need no supervisor, an expired certificate is renewed
// without a prompt, and a revoked session asks for a login again.
func TestCLIAcrossClustersAndOverTime(t *testing.T) {
	if len(testEnv.Clusters) < 3 {
		t.Fatalf("the environment has %d control planes; this test needs a management and two workload clusters", len(testEnv.Clusters))
	}
	f := newLoginFixture(t)
	c2 := testEnv.Clusters[2]
	conciergeOn(t, 2, "--cluster-signing-cert-file", c2.ClusterCACert, "--cluster-signing-key-file", c2.ClusterCAKey)
	f2 := *f
	f2.cluster, f2.audience = 2, fmt.Sprintf("cluster-2-%d", time.Now().UnixNano())
	f2.authenticator = createSupervisorJWTAuthenticator(t, 2, f.s.issuer("/fd1"), f2.audience, f.s.caPEM)
	grantGroupNamespaceList(t, 2, "seals")
	pinny := testEnv.Users[0]
	dir := t.TempDir() // one user's cache directory, shared by both kubeconfigs
	k1 := f.execKubeconfig(t, dir, "--upstream-identity-provider-flow=cli_password")
	k2 := f2.execKubeconfig(t, dir, "--upstream-identity-provider-flow=cli_password")
	password := []string{"PINNIPED_USERNAME=" + pinny.Email, "PINNIPED_PASSWORD=" + pinny.Password}
	getNamespaces := func(kubeconfig string, env []string) (string, error) {
		_, errOut, err := runWithEnv(t, env, testEnv.Kubectl, "--kubeconfig", kubeconfig, "get", "namespaces", "-o", "name")
		return errOut, err
	}
	if errOut, err := getNamespaces(k1, password); err != nil {
		t.Fatalf("cluster 1 with a password login: %v\n%s", err, errOut)
	}

	t.Run("one login serves the second cluster", func(t *testing.T) {
		if errOut, err := getNamespaces(k2, nil); err != nil { // no password, no terminal
			t.Fatalf("cluster 2 after logging in for cluster 1: %v\n%s", err, errOut)
		}
	})
	t.Run("a token for cluster 1 is refused by cluster 2", func(t *testing.T) {
		// Another user: Dex keeps one refresh token per user and client, so a second
		// login as pinny would end the upstream session the CLI's login holds.
		s, wally := f.s, testEnv.Users[1]
		tokens := s.passwordLogin(t, "/fd1", "dex", wally.Email, wally.Password)
		exchanged, status, body := s.tokenRequest(t, "/fd1", map[string][]string{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"},
			"client_id": {"pinniped-cli"}, "audience": {f.audience}, "subject_token": {tokens.AccessToken},
			"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}, "requested_token_type": {"urn:ietf:params:oauth:token-type:jwt"}})
		if status != 200 {
			t.Fatalf("exchange for cluster 1: %d %s", status, body)
		}
		if resp := tokenCredentialRequest(t, 1, exchanged.AccessToken, f.authenticator); resp.Status.Credential == nil {
			t.Fatalf("cluster 1 refused its own token: %v", deref(resp.Status.Message))
		}
		if resp := tokenCredentialRequest(t, 2, exchanged.AccessToken, f2.authenticator); resp.Status.Credential != nil {
			t.Error("cluster 2 issued a certificate for a token minted for cluster 1")
		}
	})
	t.Run("cached certificates need no supervisor", func(t *testing.T) {
		f.s.stop()
		defer f.s.restart(t)
		for _, k := range []string{k1, k2} {
			if errOut, err := getNamespaces(k, nil); err != nil {
				t.Errorf("with the supervisor stopped: %v\n%s", err, errOut)
			}
		}
	})
	t.Run("an expired certificate is renewed without a prompt", func(t *testing.T) {
		expireCaches(t, dir)
		if errOut, err := getNamespaces(k1, nil); err != nil {
			t.Fatalf("after the certificate and access token expired: %v\n%s", err, errOut)
		}
	})
	t.Run("a revoked session asks for a login again", func(t *testing.T) {
		if _, errOut, err := runWithEnv(t, nil, cliBinary(t), "logout", "--kubeconfig", k1); err != nil {
			t.Fatalf("logout: %v\n%s", err, errOut)
		}
		expireCaches(t, dir)
		errOut, err := getNamespaces(k2, nil)
		if err == nil || !strings.Contains(errOut, "PINNIPED_USERNAME") {
			t.Fatalf("after the session was revoked: %v\n%s, want a request to log in", err, errOut)
		}
		if errOut, err := getNamespaces(k2, password); err != nil {
			t.Errorf("logging in again: %v\n%s", err, errOut)
		}
	})
}

// expireCaches makes the cached certificates and access tokens look expired, as they
// are five and two minutes after they were issued.
func expireCaches(t *testing.T, dir string) {
	t.Helper()
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	for _, name := range []string{"credentials.yaml", "sessions.yaml"} {
		path := filepath.Join(dir, name)
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		for _, list := range []string{"credentials", "sessions"} {
			entries, _ := doc[list].([]any)
			for _, e := range entries {
				entry := e.(map[string]any)
				if cred, ok := entry["credential"].(map[string]any); ok {
					cred["expirationTimestamp"] = past
				}
				if tokens, ok := entry["tokens"].(map[string]any); ok {
					delete(tokens, "access")
					if id, ok := tokens["id"].(map[string]any); ok {
						id["expiryTimestamp"] = past
					}
				}
			}
		}
		out, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCLIBadInput checks each failure a user can meet gives a clear error, and that the
// CLI recovers from broken caches and serialises concurrent logins.
func TestCLIBadInput(t *testing.T) {
	f := newLoginFixture(t)
	pinny := testEnv.Users[0]
	password := []string{"PINNIPED_USERNAME=" + pinny.Email, "PINNIPED_PASSWORD=" + pinny.Password}
	login := func(kubeconfig string) (string, error) {
		_, errOut, err := runWithEnv(t, password, testEnv.Kubectl, "--kubeconfig", kubeconfig, "get", "namespaces")
		return errOut, err
	}
	flow := "--upstream-identity-provider-flow=cli_password"
	for _, tc := range []struct {
		name  string
		extra []string
		want  string
	}{
		{"unreachable issuer", []string{"--issuer=https://127.0.0.1:1/fd1"}, "could not perform OIDC discovery"},
		{"wrong CA", nil, "certificate"},
		{"concierge down", []string{"--concierge-endpoint=https://127.0.0.1:1"}, "could not reach the concierge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Later flags win, so the extra ones override the fixture's.
			kubeconfig := f.execKubeconfig(t, t.TempDir(), append([]string{flow}, tc.extra...)...)
			if tc.name == "wrong CA" { // the issuer's CA bundle replaced by an unrelated CA
				raw, err := os.ReadFile(kubeconfig)
				if err != nil {
					t.Fatal(err)
				}
				raw = bytes.ReplaceAll(raw, []byte("--ca-bundle-data="+pemBase64(t, f.s.caPEM)), []byte("--ca-bundle-data="+pemBase64(t, otherCA(t))))
				if err := os.WriteFile(kubeconfig, raw, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			errOut, err := login(kubeconfig)
			if err == nil || !strings.Contains(errOut, tc.want) {
				t.Errorf("got %v\n%s\nwant an error mentioning %q", err, errOut, tc.want)
			}
		})
	}
	t.Run("corrupt caches with wrong permissions are replaced", func(t *testing.T) {
		dir := t.TempDir()
		for _, name := range []string{"sessions.yaml", "credentials.yaml"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte("{{{ not yaml"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if errOut, err := login(f.execKubeconfig(t, dir, flow)); err != nil {
			t.Fatalf("login with corrupt caches: %v\n%s", err, errOut)
		}
		for _, name := range []string{"sessions.yaml", "credentials.yaml"} {
			raw, _ := os.ReadFile(filepath.Join(dir, name))
			fi, _ := os.Stat(filepath.Join(dir, name))
			var doc map[string]any
			if yaml.Unmarshal(raw, &doc) != nil || doc["kind"] == nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s after the login: mode %v\n%s", name, fi.Mode().Perm(), raw)
			}
		}
	})
	t.Run("two concurrent kubectl processes log in once", func(t *testing.T) {
		dir := t.TempDir()
		kubeconfig := f.execKubeconfig(t, dir, flow)
		before := countSessions(t, f.s.namespace)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		outs := make([]string, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs[i], errs[i] = login(kubeconfig)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("kubectl %d: %v\n%s", i, err, outs[i])
			}
		}
		if after := countSessions(t, f.s.namespace); after != before+1 {
			t.Errorf("%d new sessions at the supervisor, want 1 (one login)", after-before)
		}
	})
	t.Run("Ctrl-C during a browser login", func(t *testing.T) {
		dir := t.TempDir()
		cmd := exec.Command(testEnv.Kubectl, "--kubeconfig", f.execKubeconfig(t, dir, "--upstream-identity-provider-flow=browser_authcode", "--skip-browser"), "get", "namespaces")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		_, rest := readLoginURL(t, stderr)
		// The terminal sends SIGINT to the whole foreground process group.
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("kubectl succeeded after Ctrl-C:\n%s", rest.String())
			}
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatalf("kubectl did not stop within 5 s of Ctrl-C")
		}
		if raw, err := os.ReadFile(filepath.Join(dir, "sessions.yaml")); err == nil && len(bytes.TrimSpace(raw)) > 0 {
			var doc map[string]any
			if yaml.Unmarshal(raw, &doc) != nil {
				t.Errorf("the session cache is corrupt after Ctrl-C:\n%s", raw)
			}
		}
		if errOut, err := login(f.execKubeconfig(t, dir, flow)); err != nil {
			t.Errorf("logging in after Ctrl-C: %v\n%s", err, errOut)
		}
	})
}

// otherCA is a CA that signed nothing in the environment.
func otherCA(t *testing.T) []byte {
	t.Helper()
	ca, err := certauthority.New("unrelated-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca.CertPEM()
}

func pemBase64(_ *testing.T, pem []byte) string { return base64.StdEncoding.EncodeToString(pem) }
