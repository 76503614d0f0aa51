// SPDX-License-Identifier: Apache-2.0

package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientauthenticationv1beta1 "k8s.io/client-go/pkg/apis/clientauthentication/v1beta1"
	"sigs.k8s.io/yaml"
)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestCredentialKey(t *testing.T) {
	t.Parallel()
	cluster := &clientauthenticationv1beta1.Cluster{
		Server:                   "https://10.0.0.5:6443",
		CertificateAuthorityData: []byte("ca"),
		Config:                   runtime.RawExtension{Raw: []byte(`{ "a": 1 }`)},
	}
	tests := []struct {
		name string
		got  string
		want string
	}{
		{
			name: "oidc without cluster (hex computed with sha256sum)",
			got:  CredentialKey([]string{"login", "oidc"}, nil),
			want: "f841e15bfc14c92cba1bd0f7f4c49ebe784bf65debfd3f4b3474b18f2cb36ced",
		},
		{
			name: "oidc without cluster",
			got:  CredentialKey([]string{"login", "oidc"}, nil),
			want: sha256Hex(`{"args":["login","oidc"],"cluster":null}` + "\n"),
		},
		{
			name: "nil args encode like os.Args[1:] of a bare command",
			got:  CredentialKey(nil, nil),
			want: sha256Hex(`{"args":[],"cluster":null}` + "\n"),
		},
		{
			name: "go json escapes HTML characters",
			got:  CredentialKey([]string{"login", "oidc", "--issuer=https://x/?a=1&b=<2>"}, nil),
			want: sha256Hex(`{"args":["login","oidc","--issuer=https://x/?a=1\u0026b=\u003c2\u003e"],"cluster":null}` + "\n"),
		},
		{
			name: "cluster from KUBERNETES_EXEC_INFO",
			got:  CredentialKey([]string{"login", "oidc", "--enable-concierge"}, cluster),
			want: sha256Hex(`{"args":["login","oidc","--enable-concierge"],"cluster":{"server":"https://10.0.0.5:6443",` +
				`"certificate-authority-data":"Y2E=","config":{"a":1}}}` + "\n"),
		},
		{
			name: "cluster without config",
			got:  CredentialKey([]string{"login", "oidc"}, &clientauthenticationv1beta1.Cluster{Server: "https://s"}),
			want: sha256Hex(`{"args":["login","oidc"],"cluster":{"server":"https://s","config":null}}` + "\n"),
		},
		{
			name: "static (hex computed with sha256sum)",
			got:  StaticCredentialKey([]string{"login", "static", "--token=secret"}, "secret", nil),
			want: "a1f94e6336e29d48336a3768b94118411c4ab415a85c506946d88353f15d66f5",
		},
		{
			name: "static puts the token before the cluster",
			got: StaticCredentialKey([]string{"login", "static", "--token-env=TOK"}, "tok",
				&clientauthenticationv1beta1.Cluster{Server: "https://s"}),
			want: sha256Hex(`{"args":["login","static","--token-env=TOK"],"token":"tok",` +
				`"cluster":{"server":"https://s","config":null}}` + "\n"),
		},
		{
			name: "invalid cluster config gives no key",
			got: CredentialKey([]string{"login", "oidc"},
				&clientauthenticationv1beta1.Cluster{Config: runtime.RawExtension{Raw: []byte("{")}}),
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.got != tt.want {
				t.Errorf("key = %q, want %q", tt.got, tt.want)
			}
		})
	}
}

// referenceCredentialFile is laid out as the reference CLI's test data.
const referenceCredentialFile = `apiVersion: config.supervisor.pinniped.dev/v1alpha1
kind: CredentialCache
credentials:
  - key: "f841e15bfc14c92cba1bd0f7f4c49ebe784bf65debfd3f4b3474b18f2cb36ced"
    creationTimestamp: "2025-06-01T11:30:00Z"
    lastUsedTimestamp: "2025-06-01T11:45:00Z"
    credential:
      expirationTimestamp: "2025-06-01T12:05:00Z"
      clientCertificateData: |
        -----BEGIN CERTIFICATE-----
        MIIB
        -----END CERTIFICATE-----
      clientKeyData: |
        -----BEGIN PRIVATE KEY-----
        MIIE
        -----END PRIVATE KEY-----
  - key: other
    creationTimestamp: "2025-06-01T11:15:00Z"
    lastUsedTimestamp: "2025-06-01T11:15:00Z"
    credential:
      expirationTimestamp: "2025-06-01T13:00:00Z"
      token: id-token
`

// wantCredentialFileAfterGet is referenceCredentialFile after Get of the first key at 12:01.
const wantCredentialFileAfterGet = `apiVersion: config.supervisor.pinniped.dev/v1alpha1
credentials:
- creationTimestamp: "2025-06-01T11:15:00Z"
  credential:
    expirationTimestamp: "2025-06-01T13:00:00Z"
    token: id-token
  key: other
  lastUsedTimestamp: "2025-06-01T11:15:00Z"
- creationTimestamp: "2025-06-01T11:30:00Z"
  credential:
    clientCertificateData: |
      -----BEGIN CERTIFICATE-----
      MIIB
      -----END CERTIFICATE-----
    clientKeyData: |
      -----BEGIN PRIVATE KEY-----
      MIIE
      -----END PRIVATE KEY-----
    expirationTimestamp: "2025-06-01T12:05:00Z"
  key: f841e15bfc14c92cba1bd0f7f4c49ebe784bf65debfd3f4b3474b18f2cb36ced
  lastUsedTimestamp: "2025-06-01T12:01:00Z"
kind: CredentialCache
`

func metaTimePtr(t time.Time) *metav1.Time {
	m := metav1.NewTime(t)
	return &m
}

func TestCredentialCacheReadsReferenceFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "credentials.yaml")
	writeFile(t, path, referenceCredentialFile)
	c := NewCredentialCache(path, WithClock(func() time.Time { return at(time.Minute) }))

	got := c.Get(CredentialKey([]string{"login", "oidc"}, nil))
	want := &clientauthenticationv1beta1.ExecCredentialStatus{
		ExpirationTimestamp:   metaTimePtr(at(5 * time.Minute)),
		ClientCertificateData: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
		ClientKeyData:         "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
	}
	if diff := cmp.Diff(want, got, equalMetaTimes()); diff != "" {
		t.Errorf("Get() (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantCredentialFileAfterGet, readFile(t, path)); diff != "" {
		t.Errorf("file after Get (-want +got):\n%s", diff)
	}
}

func TestCredentialCacheWritesReferenceLayout(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "credentials.yaml")
	clock := newFakeClock(at(0))
	c := NewCredentialCache(path, WithClock(clock.Now))
	c.Put("k2", &clientauthenticationv1beta1.ExecCredentialStatus{
		ExpirationTimestamp: metaTimePtr(at(5 * time.Minute)), Token: "tok"})
	clock.Set(at(time.Minute))
	c.Put("k1", &clientauthenticationv1beta1.ExecCredentialStatus{
		ExpirationTimestamp: metaTimePtr(at(6 * time.Minute)), ClientCertificateData: "cert", ClientKeyData: "key"})

	want := `apiVersion: config.supervisor.pinniped.dev/v1alpha1
credentials:
- creationTimestamp: "2025-06-01T12:00:00Z"
  credential:
    expirationTimestamp: "2025-06-01T12:05:00Z"
    token: tok
  key: k2
  lastUsedTimestamp: "2025-06-01T12:00:00Z"
- creationTimestamp: "2025-06-01T12:01:00Z"
  credential:
    clientCertificateData: cert
    clientKeyData: key
    expirationTimestamp: "2025-06-01T12:06:00Z"
  key: k1
  lastUsedTimestamp: "2025-06-01T12:01:00Z"
kind: CredentialCache
`
	if diff := cmp.Diff(want, readFile(t, path)); diff != "" {
		t.Errorf("file (-want +got):\n%s", diff)
	}
}

func TestCredentialCacheNormalize(t *testing.T) {
	t.Parallel()
	now := at(0)
	entry := func(key string, created time.Duration, cred *clientauthenticationv1beta1.ExecCredentialStatus) credentialEntry {
		return credentialEntry{Key: key, CreationTimestamp: metav1.NewTime(now.Add(created)),
			LastUsedTimestamp: metav1.NewTime(now.Add(created)), Credential: cred}
	}
	expiring := func(d time.Duration) *clientauthenticationv1beta1.ExecCredentialStatus {
		return &clientauthenticationv1beta1.ExecCredentialStatus{ExpirationTimestamp: metaTimePtr(now.Add(d)), Token: "t"}
	}
	tests := []struct {
		name string
		in   []credentialEntry
		want []credentialEntry
	}{
		{
			name: "missing credential or expiry",
			in: []credentialEntry{
				entry("nil", 0, nil),
				entry("no-expiry", 0, &clientauthenticationv1beta1.ExecCredentialStatus{Token: "t"}),
				entry("ok", 0, expiring(time.Minute)),
			},
			want: []credentialEntry{entry("ok", 0, expiring(time.Minute))},
		},
		{
			name: "expired, expiring now",
			in:   []credentialEntry{entry("expired", 0, expiring(-time.Second)), entry("now", 0, expiring(0))},
			want: []credentialEntry{entry("now", 0, expiring(0))},
		},
		{
			name: "older than one hour",
			in: []credentialEntry{
				entry("old", -time.Hour-time.Second, expiring(time.Hour)),
				entry("edge", -time.Hour, expiring(time.Hour)),
			},
			want: []credentialEntry{entry("edge", -time.Hour, expiring(time.Hour))},
		},
		{
			name: "sorted by creationTimestamp",
			in: []credentialEntry{
				entry("b", -time.Minute, expiring(time.Hour)),
				entry("a", -2*time.Minute, expiring(time.Hour)),
			},
			want: []credentialEntry{
				entry("a", -2*time.Minute, expiring(time.Hour)),
				entry("b", -time.Minute, expiring(time.Hour)),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "credentials.yaml")
			b, err := yaml.Marshal(&credentialFile{
				TypeMeta:    metav1.TypeMeta{APIVersion: apiVersion, Kind: credentialKind},
				Credentials: tt.in,
			})
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, path, string(b))
			NewCredentialCache(path, WithClock(func() time.Time { return now })).Delete("absent")
			f, err := decode[credentialFile]([]byte(readFile(t, path)))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, f.Credentials, equalMetaTimes()); diff != "" {
				t.Errorf("credentials (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCredentialCacheGetPutDelete(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "credentials.yaml")
	clock := newFakeClock(at(0))
	c := NewCredentialCache(path, WithClock(clock.Now))
	status := &clientauthenticationv1beta1.ExecCredentialStatus{ExpirationTimestamp: metaTimePtr(at(time.Hour)), Token: "t"}

	if got := c.Get("k"); got != nil {
		t.Errorf("Get() on a missing file = %+v, want nil", got)
	}
	c.Put("", status)
	if got := c.Get(""); got != nil {
		t.Errorf("Get(\"\") = %+v, want nil", got)
	}
	c.Put("k", status)
	status.Token = "changed by caller"
	clock.Set(at(30 * time.Minute))
	if got := c.Get("k"); got == nil || got.Token != "t" {
		t.Errorf("Get() = %+v, want token t", got)
	}
	clock.Set(at(time.Hour + time.Second))
	if got := c.Get("k"); got != nil {
		t.Errorf("Get() after expiry = %+v, want nil", got)
	}
	clock.Set(at(0))
	c.Put("k", &clientauthenticationv1beta1.ExecCredentialStatus{ExpirationTimestamp: metaTimePtr(at(2 * time.Hour))})
	if !c.Delete("k") {
		t.Error("Delete() = false, want true")
	}
	if c.Delete("k") {
		t.Error("second Delete() = true, want false")
	}
}

// A credential YAML cannot carry faithfully is not cached, and the file keeps the other
// entries: DEL makes the encoder fail, and NEL would read back as a space, which would
// hand kubectl a changed token until it expired.
func TestCredentialCacheSkipsValuesYAMLCannotCarry(t *testing.T) {
	t.Parallel()
	for _, token := range []string{"a\x7fb", "a\u0085b"} {
		t.Run(fmt.Sprintf("%q", token), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "credentials.yaml")
			var logs logBuffer
			c := NewCredentialCache(path, WithClock(newFakeClock(at(0)).Now), WithLogger(logs.logger()))
			c.Put("kept", &clientauthenticationv1beta1.ExecCredentialStatus{ExpirationTimestamp: metaTimePtr(at(time.Hour)), Token: "t"})
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c.Put("k", &clientauthenticationv1beta1.ExecCredentialStatus{ExpirationTimestamp: metaTimePtr(at(time.Hour)), Token: token})
			if got := c.Get("k"); got != nil {
				t.Errorf("Get() = %+v, want nil (not cached)", got)
			}
			if got := c.Get("kept"); got == nil || got.Token != "t" {
				t.Errorf("Get(kept) = %+v, want token t", got)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Errorf("the file changed:\n%s\n---\n%s", before, after)
			}
			if !strings.Contains(logs.String(), "could not write cache file") {
				t.Errorf("no debug line says why; logs:\n%s", logs.String())
			}
		})
	}
}
