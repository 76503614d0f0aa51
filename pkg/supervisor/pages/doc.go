// SPDX-License-Identifier: Apache-2.0

// Package pages renders the supervisor's HTML pages: the form_post completion page, the
// identity provider chooser, the device login pages (the RFC 8628 user code form and its
// result) and the username and password form of LDAP and Active Directory logins. Only
// their URLs and form field names are contract; the markup is Selkie's. Every page is
// self-contained (no external assets) and sent with a strict Content-Security-Policy.
package pages
