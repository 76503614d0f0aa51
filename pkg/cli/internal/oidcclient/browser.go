// SPDX-License-Identifier: Apache-2.0

package oidcclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// BrowserOptions configure the browser authcode flow.
type BrowserOptions struct {
	// ListenPort is the loopback listener's port (0: any free port).
	ListenPort int
	// SkipListen starts no listener: the user pastes the code.
	SkipListen bool
	// SkipBrowser only prints the URL.
	SkipBrowser bool
	// OpenBrowser opens url in the user's browser.
	OpenBrowser func(url string) error
	// Prompt receives the URL and prompts (the terminal's stderr, never stdout).
	Prompt io.Writer
	// TTY, when the CLI has a terminal, is where a pasted code is read from.
	TTY io.Reader
	// SkipPrintURL does not print the URL when a browser was opened.
	SkipPrintURL bool
}

// callbackResult is a pasted code, or the outcome of a login the listener finished.
type callbackResult struct {
	pasted string
	tokens *Tokens
	err    error
}

// callback is one login's loopback listener: it redeems the first authorization code it
// is given, or the first pasted one, and only then answers the browser.
type callback struct {
	origin, state string
	redeem        func(code string) (*Tokens, error)
	claimed       atomic.Bool
	results       chan callbackResult
}

// claim reports whether the caller is the first to finish the login.
func (cb *callback) claim() bool { return cb.claimed.CompareAndSwap(false, true) }

// BrowserLogin runs the authorization code flow in the user's browser: the supervisor
// redirects (or form-posts) the code to a loopback listener, or the user pastes it.
func (c *Client) BrowserLogin(ctx context.Context, req AuthRequest, opts BrowserOptions) (*Tokens, error) {
	p, err := newPKCE()
	if err != nil {
		return nil, err
	}
	redirectURI := "http://127.0.0.1:0/callback"
	cb := c.newCallback(p.state, func(code string) (*Tokens, error) {
		return c.redeem(ctx, code, redirectURI, p.verifier, p.nonce)
	})
	if !opts.SkipListen {
		uri, stop, err := listen(ctx, cb, opts.ListenPort)
		if err != nil {
			c.Log.Debug("could not start the loopback listener; the code must be pasted", "error", err)
			opts.SkipListen = true
		} else {
			redirectURI = uri
			defer stop()
		}
	}
	if opts.SkipListen && opts.TTY == nil {
		return nil, errors.New("login failed: no loopback listener and no terminal to paste the authorization code into")
	}
	mode := ""
	if c.FormPostSupported() {
		mode = "form_post"
	}
	authURL := c.authorizeURL(req, redirectURI, p.state, p.nonce, p.challenge, mode)
	opened := false
	if !opts.SkipBrowser && opts.OpenBrowser != nil {
		if err := opts.OpenBrowser(authURL); err != nil {
			c.Log.Debug("could not open a browser", "error", err)
		} else {
			opened = true
		}
	}
	if !opened || !opts.SkipPrintURL {
		fmt.Fprintf(opts.Prompt, "Log in by visiting this link:\n\n    %s\n\n", authURL)
	}
	if opts.TTY != nil && (mode == "form_post" || opts.SkipListen) {
		go readPastedCode(opts.Prompt, opts.TTY, cb.results)
	}
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("login timed out or was cancelled: %w", ctx.Err())
		case r := <-cb.results:
			if r.pasted == "" {
				return r.tokens, r.err
			}
			if cb.claim() {
				return cb.redeem(r.pasted)
			}
			// The listener got a code first: its outcome follows.
		}
	}
}

// listen serves cb on 127.0.0.1:port and returns the redirect URI and how to stop.
func listen(ctx context.Context, cb *callback, port int) (string, func(), error) {
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: cb, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	// The callback answers the browser only after it redeemed the code and handed over
	// the tokens, so the login may be over before the answer went out: let it finish
	// rather than cut the connection.
	stop := func() {
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdown); err != nil {
			_ = srv.Close()
		}
	}
	return "http://" + l.Addr().String() + "/callback", stop, nil
}

func (c *Client) newCallback(state string, redeem func(code string) (*Tokens, error)) *callback {
	origin := c.Meta.Issuer
	if u, err := url.Parse(c.Meta.Issuer); err == nil {
		origin = u.Scheme + "://" + u.Host
	}
	return &callback{origin: origin, state: state, redeem: redeem, results: make(chan callbackResult, 2)}
}

func readPastedCode(prompt io.Writer, tty io.Reader, results chan<- callbackResult) {
	fmt.Fprint(prompt, "    Optionally, paste your authorization code: ")
	line, err := bufio.NewReader(tty).ReadString('\n')
	if code := strings.TrimSpace(line); code != "" {
		results <- callbackResult{pasted: code}
		return
	}
	if err != nil && !errors.Is(err, io.EOF) {
		results <- callbackResult{err: fmt.Errorf("read the authorization code: %w", err)}
	}
}

// ServeHTTP serves the loopback /callback (docs/wire-contract.md §3.5): GET with a query
// or POST with a form (the form_post page's fetch), CORS preflight for that fetch. It
// redeems the code before it answers, so the browser says "logged in" only when the
// CLI is, and shows the reason when the redemption fails.
func (cb *callback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/callback" {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", cb.origin)
	h.Set("Vary", "*")
	h.Set("Access-Control-Allow-Credentials", "false")
	switch r.Method {
	case http.MethodOptions:
		if r.Header.Get("Origin") == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		h.Set("Access-Control-Allow-Private-Network", "true")
		if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
			h.Set("Access-Control-Allow-Headers", rh)
		}
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodGet, http.MethodPost:
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if r.Form.Get("state") != cb.state {
		http.Error(w, "Forbidden: the state does not match this login", http.StatusForbidden)
		return
	}
	code, e := r.Form.Get("code"), r.Form.Get("error")
	if code == "" && e == "" {
		http.Error(w, "Bad Request: no authorization code", http.StatusBadRequest)
		return
	}
	if !cb.claim() {
		http.Error(w, "Conflict: this login is already finished or in progress", http.StatusConflict)
		return
	}
	if e != "" {
		http.Error(w, "Bad Request: login failed: "+e, http.StatusBadRequest)
		cb.results <- callbackResult{err: fmt.Errorf("login failed: %s: %s", e, r.Form.Get("error_description"))}
		return
	}
	tokens, err := cb.redeem(code)
	if err != nil {
		http.Error(w, "login failed: "+err.Error(), http.StatusInternalServerError)
	} else {
		_, _ = io.WriteString(w, "you have been logged in and may now close this tab")
	}
	_ = http.NewResponseController(w).Flush() // the answer is out before the login ends
	cb.results <- callbackResult{tokens: tokens, err: err}
}
