// SPDX-License-Identifier: Apache-2.0

package env

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// stopGrace is how long a process gets between SIGTERM and SIGKILL.
const stopGrace = 10 * time.Second

// Process is one child process of the environment, logging to LogFile.
type Process struct {
	// Name says which peer this is in errors ("kube-apiserver", "dex", ...).
	Name string
	// LogFile holds the process's stdout and stderr.
	LogFile string

	cmd  *exec.Cmd
	done chan struct{}
	err  error // set before done is closed

	// How it was started, for Respawn.
	dir, bin  string
	env, args []string
}

// StartProcess starts bin with args, its output going to dir/name.log. The child gets
// SIGKILL if this process dies, so no peer outlives a crashed or timed-out test.
func StartProcess(dir, name, bin string, args ...string) (*Process, error) {
	return startProcess(dir, name, nil, bin, args...)
}

// startProcess is StartProcess with env added to this process's environment.
func startProcess(dir, name string, env []string, bin string, args ...string) (*Process, error) {
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = dir
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	// A process group of its own keeps a terminal's Ctrl-C from reaching the child
	// directly: the environment stops its peers in order (nodes drain their pods first).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &Process{Name: name, LogFile: logPath, cmd: cmd, done: make(chan struct{}),
		dir: dir, bin: bin, env: env, args: args}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// PID is the operating system's process ID of the child.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop ends the process by PID: SIGTERM, then SIGKILL after the grace period.
func (p *Process) Stop() {
	if p == nil || p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Respawn stops the process, waits down (a peer that is away for a while), starts the
// same command again, logging to the same file, and waits for probe. The returned
// Process replaces p.
func (p *Process) Respawn(ctx context.Context, down, timeout time.Duration, probe func(context.Context) error) (*Process, error) {
	p.Stop()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(down):
	}
	next, err := startProcess(p.dir, p.Name, p.env, p.bin, p.args...)
	if err != nil {
		return nil, err
	}
	if err := next.waitReady(ctx, timeout, probe); err != nil {
		return next, err
	}
	return next, nil
}

// failure describes why the process did not come up, with the end of its log.
func (p *Process) failure(reason string) error {
	return fmt.Errorf("%s (pid %d) %s; last lines of %s:\n%s", p.Name, p.PID(), reason, p.LogFile, Tail(p.LogFile, 25))
}

// waitReady polls probe until it succeeds, the process exits, or timeout passes.
func (p *Process) waitReady(ctx context.Context, timeout time.Duration, probe func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		last = probe(pctx)
		pcancel()
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			return p.failure(fmt.Sprintf("exited before it was ready (%v)", p.err))
		case <-ctx.Done():
			return p.failure(fmt.Sprintf("was not ready within %s (last probe: %v)", timeout, last))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// httpProbe returns a probe that wants 200 from url using the TLS config (nil for http).
func httpProbe(url string, tlsConfig *tls.Config) func(context.Context) error {
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}

// Tail returns the last n lines of a file, for error messages.
func Tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

// freePorts returns n distinct TCP ports on 127.0.0.1 that were free a moment ago.
// Holding every listener until all are chosen keeps the n ports distinct.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// stopAll stops processes in reverse start order.
func stopAll(procs []*Process) {
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop()
	}
}

// errPeer wraps a start failure with the peer it concerns.
func errPeer(peer string, err error) error {
	if err == nil {
		return nil
	}
	var pe *PeerError
	if errors.As(err, &pe) {
		return err
	}
	return &PeerError{Peer: peer, Err: err}
}

// PeerError says which peer of the environment could not start, and why.
type PeerError struct {
	Peer string
	Err  error
}

func (e *PeerError) Error() string {
	return fmt.Sprintf("local environment: %s could not start: %v", e.Peer, e.Err)
}

func (e *PeerError) Unwrap() error { return e.Err }
