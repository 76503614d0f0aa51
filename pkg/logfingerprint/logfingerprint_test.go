// SPDX-License-Identifier: Apache-2.0

package logfingerprint

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFingerprints(t *testing.T) {
	t.Parallel()
	a, b := Random(), Random()
	if first, second := a.Of("hunter2"), a.Of("hunter2"); first != second {
		t.Error("one key gives two fingerprints for one value")
	}
	if a.Of("hunter2") == a.Of("hunter3") {
		t.Error("two values share a fingerprint")
	}
	if a.Of("hunter2") == b.Of("hunter2") {
		t.Error("two random keys give the same fingerprint")
	}
	sum := sha256.Sum256([]byte("hunter2"))
	if plain := hex.EncodeToString(sum[:]); strings.HasPrefix(plain, a.Of("hunter2")) {
		t.Error("the fingerprint is an unkeyed SHA-256, which guessing reverses")
	}
	if got := a.Of("x"); len(got) != 32 {
		t.Errorf("fingerprint %q, want 32 hex digits", got)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := strings.Repeat("k", 40)
	good := write("good", key+"\n")
	k, err := New(good)
	if err != nil {
		t.Fatal(err)
	}
	if k.Of("alice") != Compute([]byte(key), "alice") {
		t.Error("a loaded key does not match Compute over the file's trimmed bytes")
	}
	for _, tt := range []struct{ name, path, want string }{
		{"missing", filepath.Join(dir, "missing"), "no such file"},
		{"short", write("short", "too-short\n"), "want at least 32"},
		{"empty", write("empty", " \n"), "0 bytes"},
		{"huge", write("huge", strings.Repeat("k", 5000)), "longer than 4096"},
	} {
		if _, err := Load(tt.path); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	if r, err := New(""); err != nil || r == nil {
		t.Errorf("New(\"\") = %v, %v; want a random key", r, err)
	}
}
