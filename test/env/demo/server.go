// SPDX-License-Identifier: Apache-2.0

package demo

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/selkie-dev/selkie/test/env"
)

// Server is a selkie-supervisor or selkie-concierge process the demo started: an
// env.Process (Name, LogFile, PID, Exited, Stop by PID).
type Server struct {
	*env.Process
}

// ForbiddenLines are the server's log lines reporting an RBAC denial.
func (s *Server) ForbiddenLines() []string {
	f, err := os.Open(s.LogFile)
	if err != nil {
		return nil
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "forbidden") {
			lines = append(lines, sc.Text())
		}
	}
	return lines
}

// start runs <bin>/<name> in the demo's directory with its output in <name>.log; it
// gets SIGKILL if we die.
func (d *Demo) start(name string, args ...string) (*Server, error) {
	p, err := env.StartProcess(d.Dir, name, filepath.Join(d.Bin, name), args...)
	if err != nil {
		return nil, err
	}
	s := &Server{Process: p}
	d.procs = append(d.procs, s)
	fmt.Fprintf(d.out, "    pid %d, log %s\n", s.PID(), s.LogFile)
	return s, nil
}

func waitHealthy(ctx context.Context, s *Server, url string) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if s.Exited() || time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer %s (%v); its log:\n%s", s.Name, url, err, env.Tail(s.LogFile, 30))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Indent indents every line of s by four spaces, as the demo prints command output.
func Indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
