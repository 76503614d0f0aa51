// SPDX-License-Identifier: Apache-2.0

package oidcprovider

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAuditEventsRedactUsersAndCarryTheAuditID(t *testing.T) {
	for _, logUserInfo := range []bool{false, true} {
		p, _ := newTestProvider(t)
		var buf bytes.Buffer
		p.cfg.LogUserInfo = logUserInfo
		p.log = slog.New(slog.NewJSONHandler(&buf, nil))
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, issuer+PathAuthorize+"?"+authorizeParams().Encode(), nil)
		r.Header.Set(headerUsername, "alice")
		r.Header.Set(headerPassword, "pw")
		WithAuditID(p).ServeHTTP(w, r)
		id := w.Header().Get(HeaderAuditID)
		if w.Code != http.StatusFound || len(id) != 32 {
			t.Fatalf("status %d, Audit-ID %q", w.Code, id)
		}
		logs := buf.String()
		if !strings.Contains(logs, `"msg":"login succeeded"`) || !strings.Contains(logs, `"auditID":"`+id+`"`) {
			t.Errorf("no audit event with the audit ID:\n%s", logs)
		}
		if got := strings.Contains(logs, "alice"); got != logUserInfo {
			t.Errorf("LogUserInfo=%v but username in logs=%v:\n%s", logUserInfo, got, logs)
		}
		// An unkeyed SHA-256 of a username is reversed by hashing guesses.
		if plain := sha256.Sum256([]byte("alice")); strings.Contains(logs, base64.RawURLEncoding.EncodeToString(plain[:8])) ||
			strings.Contains(logs, hex.EncodeToString(plain[:8])) {
			t.Errorf("the username's unkeyed SHA-256 was logged:\n%s", logs)
		}
		if strings.Contains(logs, `"pw"`) || strings.Contains(logs, "sel_ac_") {
			t.Errorf("a password or code was logged:\n%s", logs)
		}
	}
}
