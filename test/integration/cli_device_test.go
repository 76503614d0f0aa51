//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCLIDeviceLoginThroughConcierge runs kubectl with a selkie exec kubeconfig whose
// flow is device_code, without a terminal: the CLI prints the verification URL and the
// code on stderr and polls, while "another device" (an HTTP client with a cookie jar)
// opens the URL, confirms the code and logs in at Dex's form. kubectl then lists
// namespaces with the certificate the concierge issued.
func TestCLIDeviceLoginThroughConcierge(t *testing.T) {
	f := newLoginFixture(t)
	pinny := testEnv.Users[0]
	dir := t.TempDir()
	kubeconfig := f.execKubeconfig(t, dir, "--upstream-identity-provider-flow=device_code")

	ctx, cancel := context.WithTimeout(testContext(t), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testEnv.Kubectl, "--kubeconfig", kubeconfig, "get", "namespaces", "-o", "name")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // no controlling terminal
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	verifyURL, userCode, rest := readDeviceInstructions(t, stderr)
	if want := f.s.issuer("/fd1") + "/device?user_code=" + userCode; verifyURL != want {
		t.Fatalf("verification URL %q, want %q", verifyURL, want)
	}
	if !regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`).MatchString(userCode) {
		t.Fatalf("user code %q", userCode)
	}
	start := time.Now()
	confirmDeviceLogin(t, f.s, verifyURL, userCode, pinny.Email, pinny.Password)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("kubectl after the device login: %v\n%s", err, rest.String())
	}
	t.Logf("device login to kubectl output: %s", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(stdout.String(), "namespace/kube-system") || strings.Contains(stdout.String(), "To log in") {
		t.Errorf("kubectl output %q", stdout.String())
	}

	// The second call is served from the caches, without a new device login.
	out, errOut, err := runWithEnv(t, nil, testEnv.Kubectl, "--kubeconfig", kubeconfig, "get", "namespaces", "-o", "name")
	if err != nil || !strings.Contains(out, "namespace/kube-system") || strings.Contains(errOut, "To log in") {
		t.Errorf("second kubectl: %v\nstdout %q\nstderr %q", err, out, errOut)
	}
}

// readDeviceInstructions reads the CLI's stderr (through kubectl) until the
// verification URL and the code, and keeps collecting the rest for diagnostics.
func readDeviceInstructions(t *testing.T, stderr io.Reader) (string, string, *bytes.Buffer) {
	t.Helper()
	rest := &bytes.Buffer{}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var verifyURL string
	timeout := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("the CLI printed no device login instructions:\n%s", rest.String())
			}
			rest.WriteString(line + "\n")
			if u, found := strings.CutPrefix(line, "To log in, visit "); found {
				verifyURL = strings.TrimSpace(u)
			}
			if code, found := strings.CutPrefix(line, "and confirm the code "); found && verifyURL != "" {
				go func() {
					for l := range lines {
						rest.WriteString(l + "\n")
					}
				}()
				return verifyURL, strings.TrimSpace(code), rest
			}
		case <-timeout:
			t.Fatalf("no device login instructions within 60s:\n%s", rest.String())
		}
	}
}

var (
	deviceFormToken = regexp.MustCompile(`name="token" value="([^"]+)"`)
	deviceFormCode  = regexp.MustCompile(`name="user_code" value="([^"]*)"`)
	deviceAction    = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	dexLoginForm    = regexp.MustCompile(`(?s)<form[^>]*method="post"[^>]*action="([^"]+)"`)
)

// confirmDeviceLogin is the user on another device: it opens the verification URL,
// submits the prefilled code, logs in at Dex and expects the supervisor's success page.
func confirmDeviceLogin(t *testing.T, s *supervisor, verifyURL, userCode, username, password string) {
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
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}

	page, _ := fetch(t, browser, http.MethodGet, verifyURL, nil)
	token, code, action := deviceFormToken.FindStringSubmatch(page), deviceFormCode.FindStringSubmatch(page), deviceAction.FindStringSubmatch(page)
	if token == nil || code == nil || action == nil || code[1] != userCode {
		t.Fatalf("device page without a form prefilled with %s:\n%s", userCode, page)
	}
	page, at := fetch(t, browser, http.MethodPost, html.UnescapeString(action[1]), url.Values{"token": {html.UnescapeString(token[1])}, "user_code": {code[1]}})
	login := dexLoginForm.FindStringSubmatch(page)
	if login == nil {
		t.Fatalf("expected Dex's login form after submitting the code, got %s:\n%s", at, page)
	}
	target, err := at.Parse(html.UnescapeString(login[1]))
	if err != nil {
		t.Fatal(err)
	}
	page, at = fetch(t, browser, http.MethodPost, target.String(), url.Values{"login": {username}, "password": {password}})
	if issuer, _, _ := strings.Cut(verifyURL, "/device?"); !strings.HasPrefix(at.String(), issuer+"/callback") {
		t.Errorf("Dex's login form led to %s, want the supervisor's callback", at)
	}
	if !strings.Contains(page, `id="success"`) || !strings.Contains(page, "return to your terminal") {
		t.Fatalf("expected the supervisor's success page after Dex's login form:\n%s", page)
	}
}

// fetch sends a GET or a form POST, follows redirects and returns the final page, which
// must be a 200, and its URL.
func fetch(t *testing.T, browser *http.Client, method, target string, form url.Values) (string, *url.URL) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = browser.PostForm(target, form)
	} else {
		resp, err = browser.Get(target)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s ended at %s with %d:\n%s", method, target, resp.Request.URL, resp.StatusCode, body)
	}
	return string(body), resp.Request.URL
}
