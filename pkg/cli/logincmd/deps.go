// SPDX-License-Identifier: Apache-2.0

package logincmd

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientauthv1 "k8s.io/client-go/pkg/apis/clientauthentication/v1"
	clientauthv1beta1 "k8s.io/client-go/pkg/apis/clientauthentication/v1beta1"
)

// Deps are the login commands' ties to the outside world, replaceable in tests.
type Deps struct {
	Getenv func(string) string
	Stdout io.Writer
	Stderr io.Writer
	// OpenTTY opens the controlling terminal for prompts; an error means there is none.
	OpenTTY func() (io.ReadWriteCloser, error)
	// ReadPassword reads a password from the terminal without echo.
	ReadPassword func(tty io.ReadWriter) (string, error)
	// OpenBrowser opens a URL in the user's browser.
	OpenBrowser func(url string) error
	// Args are the plugin's arguments (os.Args without the program), the credential
	// cache key.
	Args  []string
	Clock func() time.Time
}

// DefaultDeps are the real ones.
func DefaultDeps() Deps {
	return Deps{
		Getenv: os.Getenv, Stdout: os.Stdout, Stderr: os.Stderr,
		OpenTTY: func() (io.ReadWriteCloser, error) { return os.OpenFile("/dev/tty", os.O_RDWR, 0) },
		ReadPassword: func(tty io.ReadWriter) (string, error) {
			if f, ok := tty.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				b, err := term.ReadPassword(int(f.Fd()))
				fmt.Fprintln(tty)
				return string(b), err
			}
			return readLine(tty)
		},
		OpenBrowser: openBrowser,
		Args:        os.Args[1:],
		Clock:       time.Now,
	}
}

// env reads a variable by its Selkie name first, then its Pinniped name.
func (d Deps) env(name string) string {
	if v := d.Getenv("SELKIE_" + name); v != "" {
		return v
	}
	return d.Getenv("PINNIPED_" + name)
}

func (d Deps) logger() *slog.Logger {
	if d.env("DEBUG") == "true" {
		return slog.New(slog.NewTextHandler(d.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return strings.TrimRight(b.String(), "\r"), nil
			}
			b.WriteByte(buf[0])
		}
		if err != nil {
			return b.String(), err
		}
	}
}

// execInfo is what kubectl says about the call in KUBERNETES_EXEC_INFO.
type execInfo struct {
	apiVersion string
	cluster    *clientauthv1beta1.Cluster
}

func (d Deps) execInfo() execInfo {
	info := execInfo{apiVersion: clientauthv1beta1.SchemeGroupVersion.String()}
	raw := d.Getenv("KUBERNETES_EXEC_INFO")
	if raw == "" {
		return info
	}
	var ec struct {
		APIVersion string `json:"apiVersion"`
		Spec       struct {
			Cluster *clientauthv1beta1.Cluster `json:"cluster"`
		} `json:"spec"`
	}
	if json.Unmarshal([]byte(raw), &ec) == nil {
		if ec.APIVersion == clientauthv1.SchemeGroupVersion.String() {
			info.apiVersion = ec.APIVersion
		}
		info.cluster = ec.Spec.Cluster
	}
	return info
}

// printCredential writes the ExecCredential kubectl asked for, as one JSON line.
func (d Deps) printCredential(info execInfo, status *clientauthv1beta1.ExecCredentialStatus) error {
	gv, _ := schema.ParseGroupVersion(info.apiVersion)
	out := map[string]any{"kind": "ExecCredential", "apiVersion": gv.String(), "spec": map[string]any{"interactive": false}, "status": status}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(d.Stdout, string(b))
	return err
}
