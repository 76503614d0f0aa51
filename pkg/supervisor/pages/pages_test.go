// SPDX-License-Identifier: Apache-2.0

package pages

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// connectSrc returns the connect-src directive of the page's policy.
func connectSrc(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	for d := range strings.SplitSeq(w.Header().Get("Content-Security-Policy"), ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(d), "connect-src "); ok {
			return v
		}
	}
	t.Fatalf("no connect-src in %q", w.Header().Get("Content-Security-Policy"))
	return ""
}

// hostSource is the CSP grammar of a host source with a scheme, which browsers check:
// no IPv6 literal, a port of digits or *.
var hostSource = regexp.MustCompile(`^(https?://(\*\.)?[A-Za-z0-9.-]+(:(\d+|\*))?|https?:|'none')$`)

func TestFormPostConnectsOnlyToItsRedirectURI(t *testing.T) {
	for _, tc := range []struct{ redirectURI, want string }{
		{"http://127.0.0.1:48095/callback", "http://127.0.0.1:48095"},
		{"http://127.0.0.1:0/callback", "http://127.0.0.1:0"},
		{"https://console.example.com/oauth/callback", "https://console.example.com"},
		{"https://console.example.com:8443/oauth/callback", "https://console.example.com:8443"},
		{"http://[::1]:48095/callback", "http:"},
		{"ftp://files.example.com/", "'none'"},
		{"not a URL\x7f", "'none'"},
	} {
		w := httptest.NewRecorder()
		FormPost(w, tc.redirectURI, "code=c&state=s", "c")
		got := connectSrc(t, w)
		if got != tc.want {
			t.Errorf("%q: connect-src %q, want %q", tc.redirectURI, got, tc.want)
		}
		if !hostSource.MatchString(got) {
			t.Errorf("%q: connect-src %q is not a source browsers accept", tc.redirectURI, got)
		}
	}
}

func TestOtherPagesConnectNowhere(t *testing.T) {
	for name, page := range map[string]func(http.ResponseWriter){
		"chooser":       func(w http.ResponseWriter) { Chooser(w, []Choice{{Name: "corp", URL: "/a"}}) },
		"password":      func(w http.ResponseWriter) { Password(w, PasswordForm{Action: "/login", State: "s", IDPName: "corp"}) },
		"device":        func(w http.ResponseWriter) { Device(w, http.StatusOK, DeviceForm{}) },
		"device result": func(w http.ResponseWriter) { DeviceResult(w, http.StatusOK, true, "") },
	} {
		w := httptest.NewRecorder()
		page(w)
		if got := connectSrc(t, w); got != "'none'" {
			t.Errorf("%s: connect-src %q, want 'none'", name, got)
		}
	}
}
