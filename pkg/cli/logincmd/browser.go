// SPDX-License-Identifier: Apache-2.0

package logincmd

import (
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/pkg/browser"
)

// openBrowser opens url in the user's browser. Nothing the commands print reaches stdout,
// which carries the ExecCredential.
func openBrowser(url string) error {
	osRelease, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	onWSL := runtime.GOOS == "linux" && (os.Getenv("WSL_DISTRO_NAME") != "" || strings.Contains(strings.ToLower(string(osRelease)), "microsoft"))
	if argv := browserCommand(url, os.Getenv, onWSL, exec.LookPath); argv != nil {
		cmd := exec.Command(argv[0], argv[1:]...) //nolint:gosec,noctx // G204: the user's own $BROWSER or a fixed command, with the login URL as its one argument; the browser outlives the login.
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			return err
		}
		go func() { _ = cmd.Wait() }()
		return nil
	}
	browser.Stdout, browser.Stderr = io.Discard, io.Discard
	return browser.OpenURL(url)
}

// browserCommand is the command that opens url when it is not github.com/pkg/browser's
// choice (xdg-open and its fallbacks on Linux, open on macOS, ShellExecute on Windows):
//   - $BROWSER, when set, as xdg-open and many tools honour it;
//   - under WSL, the Windows browser, through wslview (wslu) or else rundll32.exe, since
//     a WSL distribution often has no Linux browser and no xdg-open.
func browserCommand(url string, getenv func(string) string, onWSL bool, lookPath func(string) (string, error)) []string {
	if b := getenv("BROWSER"); b != "" {
		return []string{b, url}
	}
	if !onWSL {
		return nil
	}
	if _, err := lookPath("wslview"); err == nil {
		return []string{"wslview", url}
	}
	if _, err := lookPath("rundll32.exe"); err == nil {
		return []string{"rundll32.exe", "url.dll,FileProtocolHandler", url}
	}
	return nil
}
