// SPDX-License-Identifier: Apache-2.0

package logincmd

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pkg/browser"
)

func TestBrowserCommand(t *testing.T) {
	const u = "https://id.example.com/authorize?a=b"
	found := func(names ...string) func(string) (string, error) {
		return func(name string) (string, error) {
			for _, n := range names {
				if n == name {
					return "/usr/bin/" + name, nil
				}
			}
			return "", errors.New("not found")
		}
	}
	for _, tc := range []struct {
		name    string
		browser string
		onWSL   bool
		path    func(string) (string, error)
		want    []string
	}{
		{name: "$BROWSER wins", browser: "firefox", onWSL: true, path: found("wslview"), want: []string{"firefox", u}},
		{name: "Linux: left to xdg-open and its fallbacks", path: found("xdg-open")},
		{name: "WSL with wslview", onWSL: true, path: found("wslview", "rundll32.exe"), want: []string{"wslview", u}},
		{name: "WSL without wslview", onWSL: true, path: found("rundll32.exe"), want: []string{"rundll32.exe", "url.dll,FileProtocolHandler", u}},
		{name: "WSL without Windows interop", onWSL: true, path: found()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := browserCommand(u, func(k string) string { return map[string]string{"BROWSER": tc.browser}[k] }, tc.onWSL, tc.path)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("command (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOpenBrowserKeepsStdoutClean runs openBrowser with a fake xdg-open that prints:
// the URL reaches it and nothing reaches the CLI's stdout (the ExecCredential's).
func TestOpenBrowserKeepsStdoutClean(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("xdg-open is how Linux opens a browser")
	}
	dir := t.TempDir()
	opened := filepath.Join(dir, "opened")
	script := "#!/bin/sh\necho 'Opening in existing browser session.'\necho noise >&2\necho \"$1\" > " + opened + "\n"
	if err := os.WriteFile(filepath.Join(dir, "xdg-open"), []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	t.Setenv("BROWSER", "")
	t.Setenv("WSL_DISTRO_NAME", "")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// Both where our process writes stdout and where github.com/pkg/browser would send
	// its commands' output by default.
	stdout, browserStdout := os.Stdout, browser.Stdout
	os.Stdout, browser.Stdout = w, w
	err = openBrowser("https://id.example.com/authorize?a=b")
	os.Stdout, browser.Stdout = stdout, browserStdout
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	var got []byte
	for time.Now().Before(deadline) {
		if got, err = os.ReadFile(opened); err == nil && len(got) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if strings.TrimSpace(string(got)) != "https://id.example.com/authorize?a=b" {
		t.Errorf("xdg-open got %q", got)
	}
	out, _ := io.ReadAll(r)
	if len(out) != 0 {
		t.Errorf("stdout got %q", out)
	}
}
