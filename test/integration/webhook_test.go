// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	authenticationv1beta1 "k8s.io/api/authentication/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	conciergeclient "github.com/selkie-dev/selkie/generated/client/concierge/clientset/versioned"
	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/test/env"
)

// TestConciergeLoginWithWebhook checks the WebhookAuthenticator path: the concierge
// posts a v1beta1 TokenReview to a webhook on loopback and turns its answer into a
// certificate; a token the webhook rejects gets the generic failure.
func TestConciergeLoginWithWebhook(t *testing.T) {
	t.Parallel()
	c := sharedConcierge(t)
	endpoint, caPEM := startTokenReviewWebhook(t, map[string]authenticationv1beta1.UserInfo{
		"webhook-token-for-otto": {Username: "otto", Groups: []string{"otters", "swimmers"}},
	})
	client := conciergeclient.NewForConfigOrDie(adminConfig(t, testEnv.Clusters[c.cluster].Kubeconfig)).AuthenticationV1alpha1().WebhookAuthenticators()
	ctx := testContext(t)
	wa, err := client.Create(ctx, &authenticationv1alpha1.WebhookAuthenticator{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "webhook-"},
		Spec: authenticationv1alpha1.WebhookAuthenticatorSpec{Endpoint: endpoint,
			TLS: &authenticationv1alpha1.TLSSpec{CertificateAuthorityData: base64.StdEncoding.EncodeToString(caPEM)}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Delete(context.Background(), wa.Name, metav1.DeleteOptions{}) })
	eventually(t, 30*time.Second, "WebhookAuthenticator Ready", func() (bool, error) {
		got, err := client.Get(ctx, wa.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return got.Status.Phase == authenticationv1alpha1.WebhookAuthenticatorPhaseReady, fmt.Errorf("%+v", got.Status)
	})

	resp := tokenCredentialRequestKind(t, c.cluster, "webhook-token-for-otto", "WebhookAuthenticator", wa.Name)
	if resp.Status.Credential == nil {
		t.Fatalf("login failed: %s", c.auditReason(t, "webhook-token-for-otto", "WebhookAuthenticator", wa.Name))
	}
	cert := parseCert(t, resp.Status.Credential.ClientCertificateData)
	if cert.Subject.CommonName != "otto" || !slices.Equal(cert.Subject.Organization, []string{"otters", "swimmers"}) {
		t.Errorf("certificate for %q %v", cert.Subject.CommonName, cert.Subject.Organization)
	}
	bad := tokenCredentialRequestKind(t, c.cluster, "webhook-token-unknown", "WebhookAuthenticator", wa.Name)
	if bad.Status.Credential != nil || bad.Status.Message == nil || *bad.Status.Message != "authentication failed" {
		t.Errorf("unknown token: %+v", bad.Status)
	}
}

// startTokenReviewWebhook serves TokenReview answers for the given tokens over HTTPS on
// loopback, with a certificate from a fresh CA it returns.
func startTokenReviewWebhook(t *testing.T, users map[string]authenticationv1beta1.UserInfo) (endpoint string, caPEM []byte) {
	t.Helper()
	addr, caPEM := serveTLS(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var review authenticationv1beta1.TokenReview
		if err := json.NewDecoder(r.Body).Decode(&review); err != nil || review.APIVersion != "authentication.k8s.io/v1beta1" {
			http.Error(w, "want a v1beta1 TokenReview", http.StatusBadRequest)
			return
		}
		u, ok := users[review.Spec.Token]
		review.Status = authenticationv1beta1.TokenReviewStatus{Authenticated: ok, User: u}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(review)
	}))
	return "https://" + addr + "/authenticate", caPEM
}

// serveTLS serves handler over HTTPS on a free loopback port with a certificate from a
// fresh CA, until the test ends; it returns the address and the CA's PEM.
func serveTLS(t testing.TB, handler http.Handler) (addr string, caPEM []byte) {
	t.Helper()
	ca, err := env.NewCA(t.TempDir(), "ca", "test-server-ca")
	if err != nil {
		t.Fatal(err)
	}
	serving, err := ca.Issue("server", env.ServerAuth, "server", nil, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(serving.CertFile, serving.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().(*net.TCPAddr).String(), ca.CertPEM
}
