// SPDX-License-Identifier: Apache-2.0

package pages

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// FormPost renders the form_post completion page (docs/wire-contract.md §2.5): its script POSTs
// encodedParams to redirectURI (the CLI's loopback listener) and reports the outcome;
// when that cannot work it shows the authorization code for pasting into the CLI.
func FormPost(w http.ResponseWriter, redirectURI, encodedParams, code string) {
	renderPage(w, http.StatusOK, formPostPage, map[string]string{"RedirectURI": redirectURI, "EncodedParams": encodedParams, "Code": code},
		connectSource(redirectURI))
}

// connectSource is the Content-Security-Policy source that lets the form_post page's
// script reach redirectURI and nothing else: its origin (the CLI's loopback listener, or
// an OIDCClient's https callback). CSP host sources cannot name an IPv6 address, so for
// one (http://[::1]:port) it is the scheme alone, the narrowest source browsers accept.
func connectSource(redirectURI string) string {
	u, err := url.Parse(redirectURI)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "'none'"
	}
	if strings.Contains(u.Hostname(), ":") {
		return u.Scheme + ":"
	}
	return u.Scheme + "://" + u.Host
}

// Choice is one identity provider on the chooser page.
type Choice struct {
	Name string
	URL  string
}

// Chooser renders the identity provider chooser.
func Chooser(w http.ResponseWriter, choices []Choice) {
	render(w, http.StatusOK, chooserPage, map[string]any{"Choices": choices})
}

// render writes page with a policy that lets it connect nowhere.
func render(w http.ResponseWriter, status int, page *template.Template, data any) {
	renderPage(w, status, page, data, "'none'")
}

// renderPage writes page with a fresh nonce for its inline script and style, and a
// policy that allows only those, plus connections to connectSrc.
func renderPage(w http.ResponseWriter, status int, page *template.Template, data any, connectSrc string) {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	n := base64.RawStdEncoding.EncodeToString(nonce)
	var buf bytes.Buffer
	if err := page.Execute(&buf, map[string]any{"Data": data, "Nonce": n}); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+n+"'; style-src 'nonce-"+n+"'; "+
		"connect-src "+connectSrc+"; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

const style = `<style nonce="{{.Nonce}}">body{font-family:sans-serif;max-width:40em;margin:3em auto;padding:0 1em;color:#222}
code{display:block;word-break:break-all;background:#f3f3f3;padding:1em}.hidden{display:none}
.error{color:#a00}input[name=user_code]{font-family:monospace;font-size:1.4em;letter-spacing:.1em;text-transform:uppercase}</style>`

//nolint:gochecknoglobals // parsed once; templates are safe for concurrent use and never changed.
var formPostPage = template.Must(template.New("formpost").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Selkie login</title>` + style + `</head>
<body>
<form id="response" class="hidden">
<input type="hidden" name="redirect_uri" value="{{.Data.RedirectURI}}">
<input type="hidden" name="encoded_params" value="{{.Data.EncodedParams}}">
</form>
<p id="waiting">Finishing your login…</p>
<p id="success" class="hidden">Login succeeded. You can close this tab and return to your terminal.</p>
<p id="failure" class="hidden">Login failed: <span id="failure-text"></span></p>
<div id="manual" class="hidden"><p>To finish your login, paste this authorization code into your terminal:</p><code id="code">{{.Data.Code}}</code></div>
<noscript><p>To finish your login, paste this authorization code into your terminal:</p><code>{{.Data.Code}}</code></noscript>
<script nonce="{{.Nonce}}">
(function () {
  var form = document.forms.response;
  // The manual fallback appears after two seconds, while the browser may still be
  // asking the user whether this page may reach the CLI on the loopback address; an
  // answer that comes later replaces it.
  var show = function (id) {
    ["waiting", "success", "failure", "manual"].forEach(function (other) {
      document.getElementById(other).className = "hidden";
    });
    document.getElementById(id).className = "";
  };
  var timer = setTimeout(function () { show("manual"); }, 2000);
  fetch(form.redirect_uri.value, {
    method: "POST", mode: "cors",
    headers: {"Content-Type": "application/x-www-form-urlencoded"},
    body: form.encoded_params.value
  }).then(function (resp) {
    clearTimeout(timer);
    if (resp.ok) { show("success"); return; }
    return resp.text().then(function (body) {
      document.getElementById("failure-text").textContent = resp.status + ": " + body;
      show("failure");
    });
  }).catch(function () { clearTimeout(timer); show("manual"); });
})();
</script>
</body></html>
`))

//nolint:gochecknoglobals // parsed once; templates are safe for concurrent use and never changed.
var chooserPage = template.Must(template.New("chooser").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Selkie login: choose an identity provider</title>` + style + `</head>
<body>
<h1>Log in with</h1>
<ul>{{range .Data.Choices}}<li><a href="{{.URL}}">{{.Name}}</a></li>{{end}}</ul>
</body></html>
`))
