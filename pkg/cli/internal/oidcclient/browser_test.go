// SPDX-License-Identifier: Apache-2.0

package oidcclient

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
		wantResult  string // code or error text; "" for none
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			results := make(chan callbackResult, 1)
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			c.callbackHandler("s1", results).ServeHTTP(w, r)
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.wantStatus, w.Body)
			}
			for k, v := range tc.wantHeaders {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			select {
			case res := <-results:
				got := res.code
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
		})
	}
}
