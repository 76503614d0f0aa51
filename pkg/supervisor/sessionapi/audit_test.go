// SPDX-License-Identifier: Apache-2.0

package sessionapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
)

func slogJSON(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// logLines decodes the JSON log lines in buf.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// TestAuditLines checks one audit line per list and delete, with the caller, the
// session ID and the audit ID, and the session's username only with LogUserInfo.
func TestAuditLines(t *testing.T) {
	t.Parallel()
	for _, logUserInfo := range []bool{false, true} {
		f := newFixture(t, logUserInfo, nil)
		opts := &metainternalversion.ListOptions{FieldSelector: fields.ParseSelectorOrDie("status.username=alice@example.com")}
		if _, err := f.rest.List(requestContext(ns), opts); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.rest.Delete(requestContext(ns), idAlice1, nil, &metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		lines := logLines(t, f.log)
		if len(lines) != 2 {
			t.Fatalf("logUserInfo=%t: %d log lines, want 2:\n%s", logUserInfo, len(lines), f.log)
		}
		for i, wantMsg := range []string{"supervisor sessions listed", "supervisor session deleted"} {
			l := lines[i]
			if l["msg"] != wantMsg || l["audit"] != true || l["auditID"] != "audit-id-1" || l["caller"] != "admin@example.com" || l["namespace"] != ns {
				t.Errorf("line %d: %v", i, l)
			}
		}
		if got := lines[0]["sessions"]; len(got.([]any)) != 2 || lines[0]["count"] != float64(2) {
			t.Errorf("list line sessions %v count %v", got, lines[0]["count"])
		}
		if l := lines[1]; l["session"] != idAlice1 || l["upstreamRevokeError"] != nil || l["client"] != "pinniped-cli" || l["idp"] != "dex" {
			t.Errorf("delete line: %v", l)
		}
		hasUsername := strings.Contains(f.log.String(), "alice@example.com")
		if hasUsername != logUserInfo {
			t.Errorf("logUserInfo=%t, username in the log: %t\n%s", logUserInfo, hasUsername, f.log)
		}
		if plain := sha256.Sum256([]byte("alice@example.com")); strings.Contains(f.log.String(), hex.EncodeToString(plain[:8])) {
			t.Errorf("the username's unkeyed SHA-256 was logged (guessing reverses it):\n%s", f.log)
		}
		if !logUserInfo && !strings.Contains(f.log.String(), "usernameFingerprint") {
			t.Errorf("no username fingerprint in\n%s", f.log)
		}
		if strings.Contains(f.log.String(), "upstream-tokens-of") || strings.Contains(f.log.String(), "upstream-alice") {
			t.Errorf("upstream data in the log:\n%s", f.log)
		}
	}
}

// TestDeleteRevokeFails checks that a failed upstream revocation still deletes the
// session and succeeds, and is logged on the delete's audit line.
func TestDeleteRevokeFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false, nil)
	f.revokeErr = errors.New("upstream unreachable")
	if _, deleted, err := f.rest.Delete(requestContext(ns), idBob, nil, nil); err != nil || !deleted {
		t.Fatalf("Delete = %v, %v", deleted, err)
	}
	if _, err := f.store.Get(context.Background(), idBob); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Errorf("session still stored: %v", err)
	}
	lines := logLines(t, f.log)
	if len(lines) != 1 || lines[0]["upstreamRevokeError"] != "upstream unreachable" {
		t.Errorf("log lines: %v", lines)
	}
}

// refreshingStore changes a session (as a concurrent refresh does, rotating its
// upstream tokens) right before the first Delete of it.
type refreshingStore struct {
	sessionstore.Store
	done bool
}

func (s *refreshingStore) Delete(ctx context.Context, id, resourceVersion string) error {
	if !s.done {
		s.done = true
		current, err := s.Get(ctx, id)
		if err != nil {
			return err
		}
		current.UpstreamData = []byte("rotated-upstream-tokens")
		if err := s.Update(ctx, current); err != nil {
			return err
		}
	}
	return s.Store.Delete(ctx, id, resourceVersion)
}

// TestDeleteConcurrentRefresh checks that a delete racing a refresh deletes the session
// anyway and revokes the upstream tokens the refresh stored, unless the caller gave a
// resourceVersion precondition (409).
func TestDeleteConcurrentRefresh(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false, func(s sessionstore.Store) sessionstore.Store { return &refreshingStore{Store: s} })
	if _, _, err := f.rest.Delete(requestContext(ns), idBob, nil, &metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Get(context.Background(), idBob); !errors.Is(err, sessionstore.ErrNotFound) {
		t.Errorf("session still stored: %v", err)
	}
	if len(f.revoked) != 1 || string(f.revoked[0]) != "rotated-upstream-tokens" {
		t.Errorf("revoked %q, want the rotated tokens", f.revoked)
	}

	f = newFixture(t, false, func(s sessionstore.Store) sessionstore.Store { return &refreshingStore{Store: s} })
	current, err := f.store.Get(context.Background(), idBob)
	if err != nil {
		t.Fatal(err)
	}
	opts := &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &current.ResourceVersion}}
	_, _, err = f.rest.Delete(requestContext(ns), idBob, nil, opts)
	wantStatus(t, err, 409, "the session changed meanwhile")
	if len(f.revoked) != 0 {
		t.Errorf("revoked after a conflict")
	}
}
