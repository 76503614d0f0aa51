//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/selkie-dev/selkie/pkg/supervisor/keys"
	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
	"github.com/selkie-dev/selkie/test/env"
)

// TestSupervisorSessionLifecycle follows sessions through what happens to them in
// production: the upstream disables a user, the supervisor restarts, a second replica
// serves the same sessions, the signing key rotates, a client revokes its session. Its
// Dex keeps state in etcd, so that a Dex restart alone does not end sessions.
func TestSupervisorSessionLifecycle(t *testing.T) {
	ctx := testContext(t)
	s := startSupervisor(t)
	dir := t.TempDir()
	ca, err := env.NewCA(dir, "ca", "lifecycle-dex-ca")
	if err != nil {
		t.Fatal(err)
	}
	bins, err := env.FindBinaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kept := env.User{Username: "kept", Email: "kept@example.com", Password: "kept-password-1", Groups: []string{"devs"}}
	gone := env.User{Username: "gone", Email: "gone@example.com", Password: "gone-password-1", Groups: []string{"devs"}}
	opts := env.DexOptions{Users: []env.User{kept, gone}, RedirectURIs: []string{s.issuer("/fd1") + "/callback"}, Persistent: true}
	dex, err := env.StartDex(ctx, bins, filepath.Join(dir, "dex"), ca, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dex.Close)
	s.serveDomain(t, oidcIdPYAML(s.namespace, "dex", dex.Issuer, dex.ClientID, dex.ClientSecret, ca.CertPEM, true)+"---\n"+
		federationDomainYAML(s.namespace, "fd1", s.issuer("/fd1"), "dex"), 1)
	keptTokens := s.passwordLogin(t, "/fd1", "dex", kept.Email, kept.Password)
	goneTokens := s.passwordLogin(t, "/fd1", "dex", gone.Email, gone.Password)

	t.Run("no upstream token in plaintext", func(t *testing.T) {
		kube := kubernetes.NewForConfigOrDie(adminConfig(t, testEnv.Management().Kubeconfig))
		secrets, err := kube.CoreV1().Secrets(s.namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sessions := 0
		for _, secret := range secrets.Items {
			if secret.Type == "storage.selkie.dev/session" {
				sessions++
			}
			for key, value := range secret.Data {
				// The OIDC upstream's data is JSON with string-valued token fields (the
				// session's own token hashes are objects); sealed, it never shows.
				if strings.Contains(string(value), `"refreshToken":"`) || strings.Contains(string(value), `"accessToken":"`) {
					t.Errorf("Secret %s key %s holds upstream tokens in plaintext", secret.Name, key)
				}
			}
			if secret.Type == "storage.selkie.dev/session" {
				var stored struct {
					Sealed []byte `json:"sealedUpstreamData"`
				}
				if err := json.Unmarshal(secret.Data["session"], &stored); err != nil || len(stored.Sealed) == 0 {
					t.Errorf("session Secret %s: no sealed upstream data (%v)", secret.Name, err)
				}
				if json.Valid(stored.Sealed) || strings.Contains(string(stored.Sealed), "refreshToken") {
					t.Errorf("session Secret %s: the upstream data is not sealed", secret.Name)
				}
			}
		}
		if sessions < 2 {
			t.Errorf("found %d session Secrets, want at least 2", sessions)
		}
	})

	refresh := func(client *http.Client, tokens *tokenSet) (*tokenSet, int, string) {
		t.Helper()
		return s.tokenRequestVia(t, client, "/fd1", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken},
			"client_id": {oidcprovider.CLIClientID}})
	}
	t.Run("a user removed upstream cannot refresh", func(t *testing.T) {
		if err := dex.Restart(ctx, env.DexOptions{Users: []env.User{kept}, RedirectURIs: opts.RedirectURIs, Persistent: true}); err != nil {
			t.Fatal(err)
		}
		if _, status, body := refresh(s.client, goneTokens); status != http.StatusUnauthorized || !strings.Contains(body, `"error":"error"`) {
			t.Errorf("refresh of the removed user: %d %s, want 401 error", status, body)
		}
		var status int
		var body string
		keptTokens, status, body = refresh(s.client, keptTokens)
		if status != http.StatusOK {
			t.Fatalf("refresh of the remaining user after the Dex restart: %d %s", status, body)
		}
	})
	t.Run("refresh survives a supervisor restart", func(t *testing.T) {
		s.restart(t)
		var status int
		var body string
		keptTokens, status, body = refresh(s.client, keptTokens)
		if status != http.StatusOK {
			t.Fatalf("refresh after the restart: %d %s", status, body)
		}
	})
	t.Run("a second replica refreshes and exchanges", func(t *testing.T) {
		other := s.replica(t)
		refreshed, status, body := refresh(other, keptTokens)
		if status != http.StatusOK {
			t.Fatalf("refresh at the replica: %d %s", status, body)
		}
		exchanged, status, body := s.tokenRequestVia(t, other, "/fd1", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"},
			"client_id": {oidcprovider.CLIClientID}, "audience": {"cluster-a"}, "subject_token": {refreshed.AccessToken},
			"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}, "requested_token_type": {"urn:ietf:params:oauth:token-type:jwt"}})
		if status != http.StatusOK {
			t.Fatalf("exchange at the replica: %d %s", status, body)
		}
		s.verifyIDToken(t, "/fd1", "cluster-a", exchanged.AccessToken)
		keptTokens = refreshed
	})
	t.Run("key rotation overlaps", func(t *testing.T) {
		before := keptTokens.IDToken
		oldKID := kidOf(t, before)
		kube := kubernetes.NewForConfigOrDie(adminConfig(t, testEnv.Management().Kubeconfig))
		patch := `{"metadata":{"annotations":{"` + keys.RotateAnnotation + `":"` + time.Now().Format(time.RFC3339Nano) + `"}}}`
		if _, err := kube.CoreV1().Secrets(s.namespace).Patch(ctx, "fd1-jwks", "application/merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		var fresh *tokenSet
		eventually(t, 30*time.Second, "new tokens carry a new kid", func() (bool, error) {
			var status int
			var body string
			fresh, status, body = refresh(s.client, keptTokens)
			if status != http.StatusOK {
				t.Fatalf("refresh during rotation: %d %s", status, body)
			}
			keptTokens = fresh
			return kidOf(t, fresh.IDToken) != oldKID, nil
		})
		s.verifyIDToken(t, "/fd1", oidcprovider.CLIClientID, before) // the old key is still published
		s.verifyIDToken(t, "/fd1", oidcprovider.CLIClientID, fresh.IDToken)
	})
	t.Run("a revoked session cannot refresh", func(t *testing.T) {
		resp, err := s.client.PostForm(s.issuer("/fd1")+"/oauth2/revoke", url.Values{"token": {keptTokens.RefreshToken}, "client_id": {oidcprovider.CLIClientID}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("revoke: %d", resp.StatusCode)
		}
		if _, status, _ := refresh(s.client, keptTokens); status != http.StatusBadRequest {
			t.Errorf("refresh after revocation: %d, want 400", status)
		}
	})
}

func (s *supervisor) tokenRequestVia(t *testing.T, client *http.Client, path string, form url.Values) (*tokenSet, int, string) {
	t.Helper()
	saved := s.client
	s.client = client
	defer func() { s.client = saved }()
	return s.tokenRequest(t, path, form)
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.KeyID
}
