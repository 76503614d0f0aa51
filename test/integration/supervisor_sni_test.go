//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/selkie-dev/selkie/pkg/certauthority"
)

// TestSupervisorSNICertificate serves a FederationDomain whose issuer host is a name with
// the certificate from its spec.tls.secretName, while other hosts keep the default one.
func TestSupervisorSNICertificate(t *testing.T) {
	s := startSupervisor(t)
	ctx := testContext(t)
	_, port, _ := net.SplitHostPort(s.addr)
	issuer := "https://localhost:" + port + "/fd1"
	ca, err := certauthority.New("sni-test-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.IssueServingCert([]string{"localhost"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	kube := kubernetes.NewForConfigOrDie(adminConfig(t, testEnv.Management().Kubeconfig))
	if _, err := kube.CoreV1().Secrets(s.namespace).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "localhost-tls"},
		Type: corev1.SecretTypeTLS, Data: map[string][]byte{corev1.TLSCertKey: kp.CertPEM, corev1.TLSPrivateKeyKey: kp.KeyPEM}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	manifest := dexIdPYAML(s.namespace, "dex", true) + "---\n" + federationDomainYAML(s.namespace, "fd1", issuer, "dex") +
		"  tls: {secretName: localhost-tls}\n"
	if err := applyYAML(testEnv.Management().Kubeconfig, manifest); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM())
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	sni := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, s.addr)
		},
	}}
	eventually(t, 60*time.Second, "discovery at the localhost issuer with the SNI certificate", func() (bool, error) {
		resp, err := sni.Get(issuer + "/.well-known/openid-configuration")
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("status %d", resp.StatusCode)
	})
	// The IP host still gets the default certificate, which the SNI CA did not sign.
	if _, err := sni.Get("https://" + s.addr + "/healthz"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("the IP host was served the SNI certificate: %v", err)
	}
	resp, err := s.client.Get("https://" + s.addr + "/healthz")
	if err != nil {
		t.Fatalf("default certificate: %v", err)
	}
	resp.Body.Close()
}
