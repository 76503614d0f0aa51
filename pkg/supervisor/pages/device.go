// SPDX-License-Identifier: Apache-2.0

package pages

import (
	"html/template"
	"net/http"
)

// DeviceForm is the page where the user enters the code a device (the CLI) shows, to
// approve that device's login (RFC 8628 §3.3).
type DeviceForm struct {
	// Action is the path the form posts to.
	Action string
	// UserCode prefills the code (from verification_uri_complete).
	UserCode string
	// Token protects the form against cross-site submission; it goes back as "token".
	Token string
	// Error, when set, says why the last submission was refused.
	Error string
}

// Device renders the user code form with status (400 when a submission was refused).
func Device(w http.ResponseWriter, status int, form DeviceForm) {
	render(w, status, devicePage, form)
}

// DeviceResult renders the end of a device login: approved, or refused with message.
func DeviceResult(w http.ResponseWriter, status int, approved bool, message string) {
	render(w, status, deviceResultPage, map[string]any{"Approved": approved, "Message": message})
}

//nolint:gochecknoglobals // parsed once; templates are safe for concurrent use and never changed.
var devicePage = template.Must(template.New("device").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Selkie login: device</title>` + style + `</head>
<body>
<h1>Log in on a device</h1>
<p>Enter the code your terminal shows. Only continue if you started this login yourself
and the code matches the one in your terminal: whoever holds that terminal gets your access.</p>
{{with .Data.Error}}<p class="error" role="alert">{{.}}</p>{{end}}
<form method="post" action="{{.Data.Action}}">
<input type="hidden" name="token" value="{{.Data.Token}}">
<label for="user_code">Code</label>
<input id="user_code" name="user_code" value="{{.Data.UserCode}}" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="16" required autofocus>
<button id="submit" type="submit">Continue</button>
</form>
</body></html>
`))

//nolint:gochecknoglobals // parsed once; templates are safe for concurrent use and never changed.
var deviceResultPage = template.Must(template.New("device-result").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Selkie login: device</title>` + style + `</head>
<body>
{{if .Data.Approved}}<p id="success">You are logged in. You may now close this tab and return to your terminal.</p>
{{else}}<p id="failure" class="error" role="alert">The login failed: {{.Data.Message}}</p>
<p>Start the login again in your terminal.</p>{{end}}
</body></html>
`))
