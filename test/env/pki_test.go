// SPDX-License-Identifier: Apache-2.0

package env

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"slices"
	"testing"
	"time"
)

func TestCAIssuesVerifiableLeaves(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, err := NewCA(dir, "ca", "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CertPEM)
	tests := []struct {
		name  string
		usage Usage
		cn    string
		orgs  []string
		hosts []string
		eku   x509.ExtKeyUsage
	}{
		{name: "server", usage: ServerAuth, cn: "dex", hosts: []string{"127.0.0.1", "localhost"}, eku: x509.ExtKeyUsageServerAuth},
		{name: "client", usage: ClientAuth, cn: "admin", orgs: []string{"system:masters", "devs"}, eku: x509.ExtKeyUsageClientAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kp, err := ca.Issue(tt.name, tt.usage, tt.cn, tt.orgs, tt.hosts...)
			if err != nil {
				t.Fatal(err)
			}
			pair, err := tls.LoadX509KeyPair(kp.CertFile, kp.KeyFile)
			if err != nil {
				t.Fatal(err)
			}
			cert := pair.Leaf
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{tt.eku}}); err != nil {
				t.Errorf("verify: %v", err)
			}
			if cert.Subject.CommonName != tt.cn || !slices.Equal(slices.Sorted(slices.Values(cert.Subject.Organization)), slices.Sorted(slices.Values(tt.orgs))) {
				t.Errorf("subject = %v, want CN=%s O=%v (any order: cfssl sorts them)", cert.Subject, tt.cn, tt.orgs)
			}
			if len(tt.hosts) > 0 && (!slices.Equal(cert.DNSNames, []string{"localhost"}) || len(cert.IPAddresses) != 1 || !cert.IPAddresses[0].Equal(net.ParseIP("127.0.0.1"))) {
				t.Errorf("SANs = %v %v", cert.DNSNames, cert.IPAddresses)
			}
			if life := time.Until(cert.NotAfter); life > leafLifetime || life < leafLifetime-time.Hour {
				t.Errorf("lifetime left %s, want about %s", life, leafLifetime)
			}
		})
	}
}
