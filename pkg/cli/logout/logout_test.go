// SPDX-License-Identifier: Apache-2.0

package logout

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientauthv1beta1 "k8s.io/client-go/pkg/apis/clientauthentication/v1beta1"

	"github.com/selkie-dev/selkie/pkg/cli/cache"
)

// TestLogoutAllEmptiesBothDefaultCaches checks --all removes every entry of the default
// session and credential caches, including entries of no kubeconfig context, and that
// an unreachable supervisor does not stop it (revocation is best effort). The
// context's own session goes first; the other one is removed by emptying the cache.
func TestLogoutAllEmptiesBothDefaultCaches(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	issuer := "https://127.0.0.1:1/issuer" // nothing listens: revocation fails fast
	sessions := cache.NewSessionCache(cache.DefaultSessionPath())
	exp := metav1.NewTime(time.Now().Add(time.Hour))
	for _, i := range []string{issuer, "https://127.0.0.1:1/other"} {
		sessions.Put(cache.SessionKey{Issuer: i, ClientID: "pinniped-cli", Scopes: []string{"openid"}, RedirectURI: "http://localhost:0/callback"},
			&cache.Tokens{Refresh: &cache.RefreshToken{Token: "refresh-" + i}})
	}
	creds := cache.NewCredentialCache(cache.DefaultCredentialPath())
	for _, k := range []string{"key-a", "key-b"} {
		creds.Put(k, &clientauthv1beta1.ExecCredentialStatus{Token: "t", ExpirationTimestamp: &exp})
	}
	if len(sessions.Keys()) != 2 || creds.Get("key-a") == nil {
		t.Fatal("could not seed the caches")
	}

	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
current-context: c1
clusters:
- name: c1
  cluster: {server: "https://127.0.0.1:1"}
contexts:
- name: c1
  context: {cluster: c1, user: u1}
users:
- name: u1
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: selkie
      args: [login, oidc, --issuer=`+issuer+`, --client-id=pinniped-cli, --scopes=openid]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(t.Context(), &out, &flagpole{kubeconfig: kubeconfig, all: true, timeout: 5 * time.Second}); err != nil {
		t.Fatalf("logout --all: %v\n%s", err, out.String())
	}
	if keys := sessions.Keys(); len(keys) != 0 {
		t.Errorf("sessions left: %v", keys)
	}
	for _, k := range []string{"key-a", "key-b"} {
		if creds.Get(k) != nil {
			t.Errorf("credential %s left", k)
		}
	}
	for _, want := range []string{"context c1: logged out", "removed 1 session(s)", "removed 2 credential(s)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
