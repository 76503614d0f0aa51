//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium (hack/install-deps.sh installs it).
const chromiumPath = "/usr/bin/chromium"

// TestCLIBrowserLoginThroughConcierge runs kubectl with a selkie exec kubeconfig whose
// flow is browser_authcode: the CLI prints the login URL, a real headless Chromium opens
// it, fills in Dex's login form, and the supervisor's form_post page delivers the code
// to the CLI's loopback listener.
func TestCLIBrowserLoginThroughConcierge(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium is required (hack/install-deps.sh installs it): %v", err)
	}
	f := newLoginFixture(t)
	kubeconfig := f.execKubeconfig(t, t.TempDir(), "--upstream-identity-provider-flow=browser_authcode", "--skip-browser")
	browserKubectl(t, f.s, kubeconfig)
}

// browserKubectl runs `kubectl get namespaces` with a kubeconfig whose exec user logs in
// in a browser (with --skip-browser), and logs testEnv.Users[0] in with headless
// Chromium at the URL the CLI prints.
func browserKubectl(t *testing.T, s *supervisor, kubeconfig string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(testContext(t), 2*time.Minute)
	defer cancel()
	pinny := testEnv.Users[0]
	out := browserKubectlAt(t, ctx, testEnv.Kubectl, kubeconfig, s.issuer("/fd1"), pinny.Email, pinny.Password, s.addr, dexAddr(t))
	if !strings.Contains(out, "namespace/kube-system") {
		t.Errorf("kubectl output %q", out)
	}
}

// browserKubectlAt runs `kubectl get namespaces` with a kubeconfig whose exec user logs
// in at issuer in a browser (with --skip-browser), logs the user in with headless
// Chromium at the URL the CLI prints (trusting the serving keys of hosts), and returns
// kubectl's output.
func browserKubectlAt(t *testing.T, ctx context.Context, kubectl, kubeconfig, issuer, username, password string, hosts ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "get", "namespaces", "-o", "name")
	// A session of its own: no controlling terminal, so the CLI cannot prompt for a
	// pasted code and must rely on its listener, as under an IDE or a CI job.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	loginURL, rest := readLoginURL(t, stderr)
	if !strings.HasPrefix(loginURL, issuer+"/oauth2/authorize?") || !strings.Contains(loginURL, "response_mode=form_post") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("login URL %q, want one of %s with response_mode=form_post", loginURL, issuer)
	}
	start := time.Now()
	browse(t, ctx, loginURL, username, password, hosts...)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("kubectl after the browser login: %v\n%s", err, rest.String())
	}
	t.Logf("browser login to kubectl output: %s", time.Since(start).Round(time.Millisecond))
	return stdout.String()
}

// readLoginURL reads the CLI's stderr (through kubectl) until the login URL, and keeps
// collecting the rest for diagnostics.
func readLoginURL(t *testing.T, stderr io.Reader) (string, *bytes.Buffer) {
	t.Helper()
	rest := &bytes.Buffer{}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("the CLI printed no login URL:\n%s", rest.String())
			}
			rest.WriteString(line + "\n")
			if u := strings.TrimSpace(line); strings.HasPrefix(u, "https://") {
				go func() {
					for l := range lines {
						rest.WriteString(l + "\n")
					}
				}()
				return u, rest
			}
		case <-timeout:
			t.Fatalf("no login URL within 60s:\n%s", rest.String())
		}
	}
}

func dexAddr(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(testEnv.Dex.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// browse logs in at Dex in headless Chromium, trusting only the supervisor's and Dex's
// serving keys, and waits for the form_post page to report success.
func browse(t *testing.T, ctx context.Context, loginURL, username, password string, hosts ...string) {
	t.Helper()
	browseUntil(t, ctx, loginURL, username, password, "success", hosts...)
}

// browseUntil starts at startURL, logs in at Dex's form in headless Chromium (trusting
// only the serving keys of hosts), waits for the element with ID doneID and returns its text.
func browseUntil(t *testing.T, ctx context.Context, startURL, username, password, doneID string, hosts ...string) string {
	t.Helper()
	loginURL := startURL
	var spkis []string
	for _, host := range hosts {
		spkis = append(spkis, leafSPKI(t, host))
	}
	profile := t.TempDir()
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath), chromedp.UserDataDir(profile),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true), chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-extensions", true),
		chromedp.Flag("password-store", "basic"), chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("ignore-certificate-errors-spki-list", strings.Join(spkis, ",")))
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	// Start the browser on bctx itself (a timeout on the first run would end the
	// browser with it), then bound the login so that the page can still be read after
	// a failure.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// The supervisor's form_post page hands the code to the CLI's listener on
	// 127.0.0.1. Chromium asks the user before a page of a public address (the in-cluster
	// supervisor's load balancer, 198.18.0.0/15) reaches the loopback or local network;
	// allow it for the supervisor's origin as the user would at the prompt.
	if u, err := url.Parse(loginURL); err == nil {
		origin := u.Scheme + "://" + u.Host
		for _, name := range []string{"loopback-network", "local-network", "local-network-access"} {
			grant := chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
				_, err := cdp.Call(ctx, tg, browser.SetPermission, browser.SetPermissionParams{
					Permission: &browser.PermissionDescriptor{Name: name}, Setting: browser.PermissionSettingGranted, Origin: origin})
				return chromedp.Void{}, err
			})
			if err := chromedp.Do(bctx, grant); err != nil {
				t.Logf("chromium: permission %s for %s: %v", name, origin, err) // unknown to this version
			}
		}
	}
	lctx, lcancel := context.WithTimeout(bctx, time.Minute)
	defer lcancel()
	err := chromedp.Do(lctx,
		chromedp.Navigate(loginURL),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("login"), username),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.ID("submit-login")),
		chromedp.WaitVisible(chromedp.ID(doneID)),
	)
	if err != nil {
		loc, _ := chromedp.Run(bctx, chromedp.Location())
		body, _ := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("browser login failed at %s: %v\n%.500s", loc, err, body)
	}
	text, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID(doneID)))
	if err != nil {
		t.Fatalf("read #%s: %v", doneID, err)
	}
	return text
}

// leafSPKI is base64(sha256(SubjectPublicKeyInfo)) of the certificate a TLS server at
// host presents, the form of Chromium's --ignore-certificate-errors-spki-list.
func leafSPKI(t *testing.T, host string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", host, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	sum := sha256.Sum256(conn.ConnectionState().PeerCertificates[0].RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}
