// SPDX-License-Identifier: Apache-2.0

package impersonationproxy

import (
	"crypto/tls"
	"testing"
	"time"
)

// TestCertificateWaitsForTheServingCertificate: a handshake that arrives between the
// listener's start and the certificate's arrival waits for it instead of failing.
func TestCertificateWaitsForTheServingCertificate(t *testing.T) {
	c := &Controller{certWait: 5 * time.Second}
	want := &tls.Certificate{}
	go func() {
		time.Sleep(200 * time.Millisecond)
		c.mu.Lock()
		c.cert = want
		c.mu.Unlock()
	}()
	got, err := c.certificate(&tls.ClientHelloInfo{})
	if err != nil || got != want {
		t.Fatalf("certificate() = %p, %v; want the certificate set meanwhile", got, err)
	}
}

func TestCertificateGivesUpWithoutOne(t *testing.T) {
	c := &Controller{certWait: 100 * time.Millisecond}
	if got, err := c.certificate(&tls.ClientHelloInfo{}); err == nil {
		t.Fatalf("certificate() = %p without a serving certificate, want an error", got)
	}
}
