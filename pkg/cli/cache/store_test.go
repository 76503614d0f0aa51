// SPDX-License-Identifier: Apache-2.0

package cache

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	clientauthenticationv1beta1 "k8s.io/client-go/pkg/apis/clientauthentication/v1beta1"
)

func validStatus() *clientauthenticationv1beta1.ExecCredentialStatus {
	return &clientauthenticationv1beta1.ExecCredentialStatus{ExpirationTimestamp: metaTimePtr(at(time.Hour)), Token: "t"}
}

func TestBadFilesAreReset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
	}{
		{name: "empty", content: ""},
		{name: "not yaml", content: "{{{ :: not yaml"},
		{name: "binary", content: "\x00\xff\xfe garbage \x01"},
		{name: "wrong shape", content: "apiVersion: config.supervisor.pinniped.dev/v1alpha1\nkind: SessionCache\nsessions: {a: b}\n" +
			"credentials: 7\n"},
		{name: "bad timestamp", content: "apiVersion: config.supervisor.pinniped.dev/v1alpha1\nkind: SessionCache\n" +
			"sessions:\n- creationTimestamp: yesterday\ncredentials:\n- creationTimestamp: yesterday\n"},
		{name: "foreign kind", content: "apiVersion: v1\nkind: Config\nclusters: []\n"},
		{name: "future version", content: "apiVersion: config.supervisor.pinniped.dev/v1alpha2\nkind: SessionCache\nsessions: []\n"},
		{name: "other cache kind", content: "apiVersion: config.supervisor.pinniped.dev/v1alpha1\nkind: CredentialCache\ncredentials: []\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			var logs logBuffer
			opts := []Option{WithClock(func() time.Time { return at(0) }), WithLogger(logs.logger())}

			sessions := NewSessionCache(filepath.Join(dir, "sessions.yaml"), opts...)
			writeFile(t, filepath.Join(dir, "sessions.yaml"), tt.content)
			if got := sessions.Get(ldapKey()); got != nil {
				t.Errorf("session Get() = %+v, want nil", got)
			}
			writeFile(t, filepath.Join(dir, "sessions.yaml"), tt.content)
			sessions.Put(ldapKey(), &Tokens{Refresh: &RefreshToken{Token: "rt"}})
			if diff := cmp.Diff([]SessionKey{normalizeKey(ldapKey())}, sessions.Keys()); diff != "" {
				t.Errorf("session keys after Put (-want +got):\n%s", diff)
			}

			creds := NewCredentialCache(filepath.Join(dir, "credentials.yaml"), opts...)
			content := strings.ReplaceAll(tt.content, "SessionCache", "CredentialCache")
			if tt.name == "other cache kind" {
				content = strings.ReplaceAll(tt.content, "Credential", "Session")
			}
			writeFile(t, filepath.Join(dir, "credentials.yaml"), content)
			if got := creds.Get("k"); got != nil {
				t.Errorf("credential Get() = %+v, want nil", got)
			}
			writeFile(t, filepath.Join(dir, "credentials.yaml"), content)
			creds.Put("k", validStatus())
			if got := creds.Get("k"); got == nil {
				t.Error("credential Get() after Put = nil, want the credential")
			}

			if got := strings.Count(logs.String(), "invalid cache file, resetting"); got != 4 {
				t.Errorf("logged %d resets, want 4; logs:\n%s", got, logs.String())
			}
		})
	}
}

func TestDirectoryInsteadOfFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sessions.yaml")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	sessions := NewSessionCache(path, WithLogger(logs.logger()))
	sessions.Put(ldapKey(), &Tokens{Refresh: &RefreshToken{Token: "rt"}})
	if got := sessions.Get(ldapKey()); got != nil {
		t.Errorf("Get() = %+v, want nil", got)
	}
	creds := NewCredentialCache(path, WithLogger(logs.logger()))
	creds.Put("k", validStatus())
	if got := creds.Get("k"); got != nil {
		t.Errorf("credential Get() = %+v, want nil", got)
	}
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		t.Errorf("directory was replaced (stat %v, %v)", fi, err)
	}
	if !strings.Contains(logs.String(), "could not read cache file, skipping") {
		t.Errorf("logs do not report the unreadable file:\n%s", logs.String())
	}
}

func TestUnwritableLocation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notADir := filepath.Join(dir, "file")
	writeFile(t, notADir, "x")

	var logs logBuffer
	c := NewSessionCache(filepath.Join(notADir, "selkie", "sessions.yaml"), WithLogger(logs.logger()))
	c.Put(ldapKey(), &Tokens{Refresh: &RefreshToken{Token: "rt"}})
	if got := c.Get(ldapKey()); got != nil {
		t.Errorf("Get() = %+v, want nil", got)
	}
	if !strings.Contains(logs.String(), "could not create cache directory") {
		t.Errorf("logs do not report the directory error:\n%s", logs.String())
	}
}

func TestReadOnlyDirectory(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("needs POSIX permissions enforced for the current user")
	}
	dir := filepath.Join(t.TempDir(), "ro")
	path := filepath.Join(dir, "sessions.yaml")
	clock := newFakeClock(at(0))
	var logs logBuffer
	c := NewSessionCache(path, WithClock(clock.Now), WithLogger(logs.logger()))
	c.Put(ldapKey(), &Tokens{Refresh: &RefreshToken{Token: "rt"}})
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })

	c.Put(ldapKey(), &Tokens{Refresh: &RefreshToken{Token: "rt2"}})
	if got := c.Get(ldapKey()); got == nil || got.Refresh.Token != "rt" {
		t.Errorf("Get() = %+v, want the old refresh token", got)
	}
	if !strings.Contains(logs.String(), "could not write cache file") {
		t.Errorf("logs do not report the write error:\n%s", logs.String())
	}
}

func TestLockTimeout(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sessions.yaml")
	var logs logBuffer
	c := NewSessionCache(path, WithClock(func() time.Time { return at(0) }),
		WithLogger(logs.logger()), WithLockTimeout(100*time.Millisecond))
	c.Put(ldapKey(), &Tokens{Refresh: &RefreshToken{Token: "rt"}})
	before := readFile(t, path)

	held, err := acquireLock(path+".lock", 0)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got := c.Get(ldapKey())
	elapsed := time.Since(start)
	c.Put(ldapKey(), &Tokens{Refresh: &RefreshToken{Token: "rt2"}})
	if err := held.release(); err != nil {
		t.Fatal(err)
	}

	if got != nil {
		t.Errorf("Get() while locked = %+v, want nil", got)
	}
	if elapsed < 100*time.Millisecond || elapsed > 2*time.Second {
		t.Errorf("Get() while locked took %s, want about 100ms", elapsed)
	}
	if after := readFile(t, path); after != before {
		t.Errorf("Put() while locked changed the file:\n%s", after)
	}
	if n := strings.Count(logs.String(), "could not lock cache file, skipping"); n != 2 {
		t.Errorf("logged %d lock failures, want 2:\n%s", n, logs.String())
	}
	if got := c.Get(ldapKey()); got == nil {
		t.Error("Get() after release = nil, want the entry")
	}
}

func TestConcurrentPuts(t *testing.T) {
	t.Parallel()
	const workers, perWorker = 6, 8
	dir := t.TempDir()
	sessionPath := filepath.Join(dir, "sub", "sessions.yaml")
	credPath := filepath.Join(dir, "sub", "credentials.yaml")
	now := func() time.Time { return at(0) }

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			sessions := NewSessionCache(sessionPath, WithClock(now))
			creds := NewCredentialCache(credPath, WithClock(now))
			for i := range perWorker {
				issuer := fmt.Sprintf("https://issuer-%d-%d", w, i)
				sessions.Put(SessionKey{Issuer: issuer}, &Tokens{Refresh: &RefreshToken{Token: issuer}})
				creds.Put(issuer, validStatus())
			}
		})
	}
	wg.Wait()

	var want []SessionKey
	for w := range workers {
		for i := range perWorker {
			want = append(want, SessionKey{Issuer: fmt.Sprintf("https://issuer-%d-%d", w, i)})
		}
	}
	byIssuer := cmpopts.SortSlices(func(a, b SessionKey) bool { return a.Issuer < b.Issuer })
	if diff := cmp.Diff(want, NewSessionCache(sessionPath, WithClock(now)).Keys(), byIssuer); diff != "" {
		t.Errorf("session keys (-want +got):\n%s", diff)
	}
	creds := NewCredentialCache(credPath, WithClock(now))
	for _, k := range want {
		if creds.Get(k.Issuer) == nil {
			t.Errorf("credential %q missing", k.Issuer)
		}
	}
}

func TestFileModes(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("POSIX modes")
	}
	dir := filepath.Join(t.TempDir(), "a", "selkie")
	path := filepath.Join(dir, "sessions.yaml")
	c := NewSessionCache(path, WithClock(func() time.Time { return at(0) }))
	c.Put(ldapKey(), &Tokens{Refresh: &RefreshToken{Token: "rt"}})

	credPath := filepath.Join(dir, "credentials.yaml")
	writeFile(t, credPath, "")
	if err := os.Chmod(credPath, 0o644); err != nil {
		t.Fatal(err)
	}
	NewCredentialCache(credPath).Put("k", validStatus())

	for p, want := range map[string]os.FileMode{
		dir: os.ModeDir | 0o700, filepath.Dir(dir): os.ModeDir | 0o700,
		path: 0o600, path + ".lock": 0o600, credPath: 0o600,
	} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("mode of %s = %s, want %s", p, fi.Mode(), want)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 4 {
		t.Errorf("directory holds %d entries, want 4 (no temporary files left)", len(entries))
	}
}

func TestSymlinkIsFollowed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "real.yaml")
	link := filepath.Join(dir, "sessions.yaml")
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("symlinks unavailable: %v", err)
	}
	c := NewSessionCache(link, WithClock(func() time.Time { return at(0) }))
	c.Put(ldapKey(), &Tokens{Refresh: &RefreshToken{Token: "rt"}})
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("symlink replaced (lstat %v, %v)", fi, err)
	}
	if !strings.Contains(readFile(t, target), "token: rt") {
		t.Errorf("target not written:\n%s", readFile(t, target))
	}
}

func TestDefaultPaths(t *testing.T) {
	tests := []struct {
		name, xdg, home string
		want            string
	}{
		{name: "XDG_CONFIG_HOME wins", xdg: "/x/config", home: "/home/u", want: "/x/config/selkie"},
		{name: "HOME fallback", home: "/home/u", want: "/home/u/.config/selkie"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("XDG_CONFIG_HOME", tt.xdg)
			t.Setenv("HOME", tt.home)
			got := []string{DefaultDir(), DefaultSessionPath(), DefaultCredentialPath()}
			want := []string{filepath.FromSlash(tt.want), filepath.FromSlash(tt.want + "/sessions.yaml"),
				filepath.FromSlash(tt.want + "/credentials.yaml")}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("default paths (-want +got):\n%s", diff)
			}
		})
	}
}
