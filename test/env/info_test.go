// SPDX-License-Identifier: Apache-2.0

package env

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEnvFileRoundTrip(t *testing.T) {
	t.Parallel()
	want := Info{
		Dir: "/tmp/e", Kubectl: "/bin/kubectl", CABundle: "/tmp/e/pki/ca.crt",
		Clusters: []ClusterInfo{
			{Name: "management", APIURL: "https://127.0.0.1:1", Kubeconfig: "/tmp/e/m/admin.kubeconfig", ClusterCACert: "/m/ca.crt", ClusterCAKey: "/m/ca.key", FrontProxyCACert: "/m/fp.crt"},
			{Name: "workload-1", APIURL: "https://127.0.0.1:2", Kubeconfig: "/tmp/e/w/admin.kubeconfig"},
		},
		Dex:   DexInfo{Issuer: "https://127.0.0.1:3/dex", ClientID: "c", ClientSecret: "s", RedirectURIs: []string{"https://a/cb", "https://b/cb"}},
		LDAP:  LDAPInfo{StartTLSAddr: "127.0.0.1:4", LDAPSAddr: "127.0.0.1:5", BaseDN: "dc=example,dc=com", UsersDN: "ou=users,dc=example,dc=com", GroupsDN: "ou=groups,dc=example,dc=com", BindDN: "cn=admin,dc=example,dc=com", BindPassword: "pw"},
		Users: []User{{Username: "pinny", Email: "pinny@example.com", Password: "p1", Groups: []string{"seals", "seals/admins"}}, {Username: "wally", Email: "w@example.com", Password: "p2"}},
		PIDs:  []int{10, 11},
	}
	path := filepath.Join(t.TempDir(), "env")
	if err := WriteEnvFile(path, want); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("env file mode = %v, %v; want 0600 (it holds passwords)", fi.Mode().Perm(), err)
	}
	got, err := LoadEnvFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if got.Management().Name != "management" {
		t.Errorf("Management() = %q", got.Management().Name)
	}
}

func TestEnvFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := WriteEnvFile(filepath.Join(dir, "x"), Info{Dir: "it's"}); err == nil {
		t.Error("WriteEnvFile accepted a value it cannot quote")
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("export SELKIE_ENV_DIR='/x'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadEnvFile(bad); err == nil {
		t.Error("LoadEnvFile accepted a file without clusters")
	}
	if _, err := LoadEnvFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("LoadEnvFile accepted a missing file")
	}
}
