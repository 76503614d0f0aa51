// SPDX-License-Identifier: Apache-2.0

package logincmd

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/selkie-dev/selkie/pkg/cli/cache"
)

func testDeps(env map[string]string, stdout *bytes.Buffer) Deps {
	return Deps{
		Getenv: func(k string) string { return env[k] }, Stdout: stdout, Stderr: io.Discard,
		OpenTTY: func() (io.ReadWriteCloser, error) { return nil, errors.New("no terminal") },
		Clock:   func() time.Time { return time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) },
	}
}

func TestFreshSessionRules(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	id := func(aud string, left time.Duration) *cache.IDToken {
		return &cache.IDToken{Token: "id", Expiry: now.Add(left), Claims: map[string]any{"aud": []any{aud}}}
	}
	access := func(left time.Duration) *cache.AccessToken {
		return &cache.AccessToken{Token: "at", Expiry: now.Add(left)}
	}
	for _, tc := range []struct {
		name     string
		audience string
		tokens   *cache.Tokens
		want     bool
	}{
		{"no tokens", "", nil, false},
		{"ID token with 11 minutes, no exchange", "", &cache.Tokens{ID: id("pinniped-cli", 11*time.Minute)}, true},
		{"ID token with 9 minutes, no exchange", "", &cache.Tokens{ID: id("pinniped-cli", 9*time.Minute)}, false},
		{"exchange needed, access token with 11 seconds", "cluster-a", &cache.Tokens{ID: id("pinniped-cli", time.Minute), Access: access(11 * time.Second)}, true},
		{"exchange needed, access token with 9 seconds", "cluster-a", &cache.Tokens{ID: id("pinniped-cli", time.Hour), Access: access(9 * time.Second)}, false},
		{"exchange needed, no access token", "cluster-a", &cache.Tokens{ID: id("pinniped-cli", time.Hour)}, false},
		{"cached token already for the audience", "cluster-a", &cache.Tokens{ID: id("cluster-a", 11*time.Minute)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &oidcLogin{deps: testDeps(nil, nil), f: &oidcFlags{requestAudience: tc.audience}}
			if got := l.fresh(tc.tokens); got != tc.want {
				t.Errorf("fresh = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStaticPrintsTheExecCredentialKubectlAsksFor(t *testing.T) {
	for _, tc := range []struct {
		name, execInfo, wantAPIVersion string
	}{
		{"no exec info", "", "client.authentication.k8s.io/v1beta1"},
		{"v1", `{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}}`, "client.authentication.k8s.io/v1"},
		{"v1beta1", `{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","spec":{}}`, "client.authentication.k8s.io/v1beta1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			deps := testDeps(map[string]string{"KUBERNETES_EXEC_INFO": tc.execInfo, "MY_TOKEN": "s3cret"}, &out)
			if err := runStatic(context.Background(), deps, &staticFlags{tokenEnv: "MY_TOKEN"}); err != nil {
				t.Fatal(err)
			}
			if strings.Count(out.String(), "\n") != 1 {
				t.Errorf("want one JSON line, got %q", out.String())
			}
			var ec map[string]any
			if err := json.Unmarshal(out.Bytes(), &ec); err != nil {
				t.Fatal(err)
			}
			status, _ := ec["status"].(map[string]any)
			if ec["kind"] != "ExecCredential" || ec["apiVersion"] != tc.wantAPIVersion || status["token"] != "s3cret" {
				t.Errorf("got %s", out.String())
			}
		})
	}
}

func TestStaticAndOIDCRefuseBadFlags(t *testing.T) {
	deps := testDeps(map[string]string{}, &bytes.Buffer{})
	for name, f := range map[string]*staticFlags{
		"no token":        {},
		"both":            {token: "a", tokenEnv: "B"},
		"empty env":       {tokenEnv: "UNSET"},
		"concierge no ep": {token: "a", concierge: conciergeFlags{enabled: true, authenticatorType: "jwt", authenticatorName: "x"}},
		"bad type":        {token: "a", concierge: conciergeFlags{enabled: true, endpoint: "https://x", authenticatorType: "saml", authenticatorName: "x"}},
	} {
		if err := runStatic(context.Background(), deps, f); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := runOIDC(context.Background(), deps, &oidcFlags{issuer: "http://plain.example.com"}); err == nil || !strings.Contains(err.Error(), "https") {
		t.Errorf("a plain-HTTP issuer: %v", err)
	}
}

func TestParseOIDCArgsMatchesTheCommand(t *testing.T) {
	a, err := ParseOIDCArgs([]string{"login", "oidc", "--issuer=https://id.example.com/fd1", "--scopes=openid,groups",
		"--listen-port=1234", "--upstream-identity-provider-name=corp", "--session-cache=/tmp/s.yaml", "--credential-cache="})
	if err != nil {
		t.Fatal(err)
	}
	key := a.SessionKey()
	if key.Issuer != "https://id.example.com/fd1" || key.ClientID != "pinniped-cli" || strings.Join(key.Scopes, ",") != "groups,openid" ||
		key.RedirectURI != "http://localhost:1234/callback" || key.UpstreamProviderName != "corp" || a.SessionCache != "/tmp/s.yaml" || a.CredentialCache != "" {
		t.Errorf("parsed %+v key %+v", a, key)
	}
	if _, err := ParseOIDCArgs([]string{"login", "static", "--token=x"}); err == nil {
		t.Error("login static parsed as login oidc")
	}
}

// TestLoginAcceptsOlderKubeconfigsConciergeFlags runs `login static` as a kubeconfig
// written by an older CLI would: with --concierge-namespace and an authenticator type
// in capitals. Both login commands share these flags.
func TestLoginAcceptsOlderKubeconfigsConciergeFlags(t *testing.T) {
	var tcr string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		tcr = string(b)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"status":{"credential":{"expirationTimestamp":"2026-01-01T12:05:00Z","clientCertificateData":"cert","clientKeyData":"key"}}}`)
	}))
	defer srv.Close()
	for _, sub := range []string{"static", "oidc"} {
		var out, errOut bytes.Buffer
		deps := testDeps(nil, &out)
		deps.Stderr = &errOut
		cmd := NewCommand(deps)
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		args := []string{sub, "--enable-concierge", "--concierge-endpoint=" + srv.URL, "--concierge-namespace=old-concierge-ns",
			"--concierge-authenticator-type=JWT", "--concierge-authenticator-name=the-authenticator", "--credential-cache=",
			"--concierge-ca-bundle-data=" + base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))}
		if sub == "static" {
			args = append(args, "--token=the-token")
		} else {
			// Only the flags are checked here: the OIDC login itself has its own tests.
			oidc, _, err := cmd.Find([]string{"oidc"})
			if err != nil {
				t.Fatal(err)
			}
			if err := oidc.ParseFlags(args[1:]); err != nil {
				t.Errorf("login oidc refuses the flags: %v", err)
			}
			continue
		}
		cmd.SetArgs(args)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("login %s: %v (stderr %s)", sub, err, errOut.String())
		}
		if !strings.Contains(out.String(), `"clientCertificateData":"cert"`) || errOut.Len() != 0 {
			t.Errorf("login %s printed %q, stderr %q", sub, out.String(), errOut.String())
		}
		if !strings.Contains(tcr, `"kind":"JWTAuthenticator"`) {
			t.Errorf("TokenCredentialRequest %s", tcr)
		}
	}
}

// TestStaticTokenFile checks --token-file: the token is read at each call (trimmed), and a
// missing, empty, oversized or multi-line file is refused without quoting its content.
func TestStaticTokenFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("token", "  eyJhbGciOi.payload.sig\n")
	var out bytes.Buffer
	if err := runStatic(context.Background(), testDeps(nil, &out), &staticFlags{tokenFile: good}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"token":"eyJhbGciOi.payload.sig"`) {
		t.Errorf("credential %s lacks the trimmed token", out.String())
	}
	// The CI job replaced the file: the next call presents the new token.
	write("token", "second.token.value")
	out.Reset()
	if err := runStatic(context.Background(), testDeps(nil, &out), &staticFlags{tokenFile: good}); err != nil || !strings.Contains(out.String(), "second.token.value") {
		t.Errorf("after replacing the file: %v, %s", err, out.String())
	}
	for name, tc := range map[string]struct{ path, want string }{
		"missing":    {filepath.Join(dir, "absent"), "no such file"},
		"empty":      {write("empty", " \n"), "is empty"},
		"two lines":  {write("lines", "secret-one\nsecret-two\n"), "more than one line"},
		"oversized":  {write("big", strings.Repeat("a", maxTokenFileBytes+1)), "larger than"},
		"not a file": {dir, "read"},
	} {
		err := runStatic(context.Background(), testDeps(nil, &bytes.Buffer{}), &staticFlags{tokenFile: tc.path})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "--token-file: ") {
			t.Errorf("%s: %v, want --token-file: …%s", name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret-") {
			t.Errorf("%s: the error quotes the file: %v", name, err)
		}
	}
	if err := runStatic(context.Background(), testDeps(map[string]string{"T": "x"}, &bytes.Buffer{}), &staticFlags{tokenEnv: "T", tokenFile: good}); err == nil ||
		!strings.Contains(err.Error(), "only one of") {
		t.Errorf("--token-env with --token-file: %v", err)
	}
}
