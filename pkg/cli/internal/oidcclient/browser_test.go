// SPDX-License-Identifier: Apache-2.0

package oidcclient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestCallbackHandler(t *testing.T) {
	c := &Client{Meta: Metadata{Issuer: "https://id.example.com:8443/fd1"}}
	for _, tc := range []struct {
		name        string
		method      string
		target      string
		body        string
		header      map[string]string
		wantStatus  int
		wantResult  string // redeemed code or error text; "" for none
		wantHeaders map[string]string
	}{
		{name: "preflight", method: http.MethodOptions, target: "/callback",
			header:     map[string]string{"Origin": "https://id.example.com:8443", "Access-Control-Request-Headers": "content-type"},
			wantStatus: http.StatusNoContent,
			wantHeaders: map[string]string{"Access-Control-Allow-Origin": "https://id.example.com:8443", "Vary": "*",
				"Access-Control-Allow-Credentials": "false", "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
				"Access-Control-Allow-Private-Network": "true", "Access-Control-Allow-Headers": "content-type"}},
		{name: "preflight without origin", method: http.MethodOptions, target: "/callback", wantStatus: http.StatusBadRequest},
		{name: "query", method: http.MethodGet, target: "/callback?state=s1&code=c1", wantStatus: http.StatusOK, wantResult: "c1",
			wantHeaders: map[string]string{"Access-Control-Allow-Origin": "https://id.example.com:8443"}},
		{name: "form post", method: http.MethodPost, target: "/callback", body: "state=s1&code=c2&scope=openid",
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, wantStatus: http.StatusOK, wantResult: "c2"},
		{name: "wrong state", method: http.MethodGet, target: "/callback?state=other&code=c1", wantStatus: http.StatusForbidden},
		{name: "error", method: http.MethodGet, target: "/callback?state=s1&error=access_denied&error_description=no", wantStatus: http.StatusBadRequest,
			wantResult: "login failed: access_denied: no"},
		{name: "other method", method: http.MethodPut, target: "/callback", wantStatus: http.StatusMethodNotAllowed},
		{name: "other path", method: http.MethodGet, target: "/elsewhere?state=s1&code=c1", wantStatus: http.StatusNotFound},
		{name: "the supervisor refuses the code", method: http.MethodGet, target: "/callback?state=s1&code=refused", wantStatus: http.StatusInternalServerError,
			wantResult: "token request: invalid_grant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cb := c.newCallback("s1", func(code string) (*Tokens, error) {
				if code == "refused" {
					return nil, errors.New("token request: invalid_grant")
				}
				return &Tokens{RefreshToken: code}, nil
			})
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			cb.ServeHTTP(w, r)
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.wantStatus, w.Body)
			}
			for k, v := range tc.wantHeaders {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			select {
			case res := <-cb.results:
				var got string
				if res.tokens != nil {
					got = res.tokens.RefreshToken
				}
				if res.err != nil {
					got = res.err.Error()
				}
				if got != tc.wantResult {
					t.Errorf("result %q, want %q", got, tc.wantResult)
				}
			default:
				if tc.wantResult != "" {
					t.Errorf("no result, want %q", tc.wantResult)
				}
			}
			if tc.wantResult != "" && tc.wantStatus == http.StatusOK && !strings.Contains(w.Body.String(), "you have been logged in") {
				t.Errorf("body %q", w.Body)
			}
			if tc.wantStatus == http.StatusInternalServerError && !strings.Contains(w.Body.String(), "login failed: "+tc.wantResult) {
				t.Errorf("body %q, want the reason", w.Body)
			}
		})
	}
}

// TestBrowserLoginAnswersTheBrowserAfterRedeeming drives BrowserLogin as a browser
// would: the callback's answer says whether the CLI really got its tokens.
func TestBrowserLoginAnswersTheBrowserAfterRedeeming(t *testing.T) {
	for _, tc := range []struct {
		name, answer string
		wantStatus   int
		wantBody     string
		wantErr      string
	}{
		{name: "redeemed", answer: "", wantStatus: http.StatusOK, wantBody: "you have been logged in"},
		{name: "refused", answer: "invalid_grant", wantStatus: http.StatusInternalServerError, wantBody: "login failed: ", wantErr: "invalid_grant"},
		{name: "supervisor down", answer: "503", wantStatus: http.StatusInternalServerError, wantBody: "login failed: ", wantErr: "503"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answers := []string{tc.answer}
			if tc.answer == "503" {
				answers = []string{"503", "503", "503", "503"} // the token request's retries
			}
			f := newFakeIssuer(t, answers...)
			c, err := Discover(context.Background(), f.srv.URL, "pinniped-cli", f.srv.Client(), nil)
			if err != nil {
				t.Fatal(err)
			}
			var status int
			var body string
			visited := make(chan error, 1)
			visit := func(authURL string) error {
				u, err := url.Parse(authURL)
				if err != nil {
					return err
				}
				q := u.Query()
				f.mu.Lock()
				f.nonce = q.Get("nonce")
				f.mu.Unlock()
				callback := q.Get("redirect_uri") + "?" + url.Values{"state": {q.Get("state")}, "code": {"the-code"}}.Encode()
				resp, err := http.Get(callback)
				if err != nil {
					return err
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				status, body = resp.StatusCode, string(b)
				return nil
			}
			// The browser visits while the CLI waits, as a real one does: the CLI may be
			// done before the browser has read its answer.
			browser := func(authURL string) error {
				go func() { visited <- visit(authURL) }()
				return nil
			}
			c.Sleep = func(context.Context, time.Duration) error { return nil }
			var prompt strings.Builder
			tokens, err := c.BrowserLogin(context.Background(), AuthRequest{Scopes: []string{"openid"}},
				BrowserOptions{OpenBrowser: browser, SkipPrintURL: true, Prompt: &prompt})
			if verr := <-visited; verr != nil {
				t.Fatalf("the browser's visit failed: %v", verr)
			}
			if status != tc.wantStatus || !strings.Contains(body, tc.wantBody) {
				t.Errorf("the browser got %d %q, want %d %q", status, body, tc.wantStatus, tc.wantBody)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				if !strings.Contains(body, tc.wantErr) {
					t.Errorf("the browser's page %q does not give the reason %q", body, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tokens.RefreshToken != "sel_rt_a.b" {
				t.Errorf("tokens %+v", tokens)
			}
			if len(f.tokenForms) != 1 || f.tokenForms[0].Get("code") != "the-code" {
				t.Errorf("token requests %v", f.tokenForms)
			}
		})
	}
}

// TestCallbackRedeemsOnce checks that a second visit (a reload, a second tab) does not
// redeem again.
func TestCallbackRedeemsOnce(t *testing.T) {
	c := &Client{Meta: Metadata{Issuer: "https://id.example.com/fd1"}}
	redeemed := 0
	cb := c.newCallback("s1", func(code string) (*Tokens, error) { redeemed++; return &Tokens{RefreshToken: code}, nil })
	for i, want := range []int{http.StatusOK, http.StatusConflict, http.StatusConflict} {
		w := httptest.NewRecorder()
		cb.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/callback?state=s1&code=c"+string(rune('1'+i)), nil))
		if w.Code != want {
			t.Errorf("visit %d: %d, want %d", i+1, w.Code, want)
		}
	}
	if redeemed != 1 {
		t.Errorf("redeemed %d times, want once", redeemed)
	}
}
