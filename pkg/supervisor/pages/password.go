// SPDX-License-Identifier: Apache-2.0

package pages

import (
	"html/template"
	"net/http"
)

// Values of the /login `err` query parameter (docs/wire-contract.md §2.5).
const (
	ErrIncorrectUsernameOrPassword = "incorrect_username_or_password"
	ErrInternal                    = "internal_error"
)

// PasswordForm is the login form of an identity provider that checks passwords itself
// (LDAP, Active Directory).
type PasswordForm struct {
	// Action is the path the form posts to: <issuer path>/login.
	Action string
	// State is the sealed login state; it goes back as the hidden field "state".
	State string
	// IDPName is the identity provider's display name.
	IDPName string
	// Err is the `err` query parameter of the last attempt; it selects the alert.
	Err string
}

// Password renders the login form with fields state (hidden), username and password.
func Password(w http.ResponseWriter, form PasswordForm) {
	alert := ""
	switch form.Err {
	case ErrIncorrectUsernameOrPassword:
		alert = "Incorrect username or password."
	case ErrInternal:
		alert = "An internal error occurred. Please contact your administrator for help."
	}
	render(w, http.StatusOK, passwordPage, map[string]string{"Action": form.Action, "State": form.State, "IDPName": form.IDPName, "Alert": alert})
}

//nolint:gochecknoglobals // parsed once; templates are safe for concurrent use and never changed.
var passwordPage = template.Must(template.New("password").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Selkie login: {{.Data.IDPName}}</title>` + style + `</head>
<body>
<h1>Log in to {{.Data.IDPName}}</h1>
{{with .Data.Alert}}<p id="alert" class="error" role="alert">{{.}}</p>{{end}}
<form method="post" action="{{.Data.Action}}">
<input type="hidden" name="state" value="{{.Data.State}}">
<p><label for="username">Username</label><br>
<input id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus></p>
<p><label for="password">Password</label><br>
<input id="password" name="password" type="password" autocomplete="current-password" required></p>
<button id="submit" type="submit">Log in</button>
</form>
</body></html>
`))
