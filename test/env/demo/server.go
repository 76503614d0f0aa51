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
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Server is a selkie-supervisor or selkie-concierge process the demo started.
type Server struct {
	// Name is the binary's name; Log holds its stdout and stderr.
	Name, Log string

	cmd  *exec.Cmd
	done chan struct{}
}

// PID is the server's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (s *Server) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Stop stops the server by PID: SIGTERM, then SIGKILL after 10 s. It is idempotent.
func (s *Server) Stop() {
	if s.Exited() {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// ForbiddenLines are the server's log lines reporting an RBAC denial.
func (s *Server) ForbiddenLines() []string {
	f, err := os.Open(s.Log)
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

// start runs <bin>/<name> with its output in <dir>/<name>.log; it gets SIGKILL if we die.
func (d *Demo) start(name string, args ...string) (*Server, error) {
	s := &Server{Name: name, Log: filepath.Join(d.Dir, name+".log"), done: make(chan struct{})}
	logFile, err := os.Create(s.Log)
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(filepath.Join(d.Bin, name), args...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); logFile.Close(); close(s.done) }()
	d.procs = append(d.procs, s)
	fmt.Fprintf(d.out, "    pid %d, log %s\n", s.PID(), s.Log)
	return s, nil
}

func waitHealthy(ctx context.Context, s *Server, url string) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // readiness probe of our own process
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
			return fmt.Errorf("%s did not answer %s (%v); its log:\n%s", s.Name, url, err, tail(s.Log, 30))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
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
