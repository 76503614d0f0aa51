// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func TestKubectlGetNamespaces(t *testing.T) {
	t.Parallel()
	out := mustKubectl(t, "get", "namespaces", "-o", "name")
	for _, want := range []string{"namespace/default", "namespace/kube-system", "namespace/kube-public"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl get namespaces: missing %s in:\n%s", want, out)
		}
	}
	version := mustKubectl(t, "version", "-o", "json")
	if strings.Count(version, `"gitVersion": "v1.37.2"`) != 2 {
		t.Errorf("kubectl and kube-apiserver should both be v1.37.2:\n%s", version)
	}
}

func TestImpersonatedUserIsForbidden(t *testing.T) {
	t.Parallel()
	_, errOut, err := kubectl(t, "--as=alice", "get", "namespaces")
	if err == nil {
		t.Fatal("kubectl --as=alice get namespaces succeeded; RBAC should forbid it")
	}
	if !strings.Contains(errOut, "Forbidden") || !strings.Contains(errOut, `User "alice" cannot list resource "namespaces"`) {
		t.Errorf("want a Forbidden error naming alice, got:\n%s", errOut)
	}
}

// TestCSRIsSignedAndAuthenticates checks the path the concierge's CSR strategy relies on:
// a kube-apiserver-client CSR with a 10-minute lifetime is approved, signed by the
// controller manager, and the certificate authenticates as its CN and O.
func TestCSRIsSignedAndAuthenticates(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	client := adminClient(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "bob", Organization: []string{"devs", "qa"}},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	expiration := int32(600)
	csr, err := client.CertificatesV1().CertificateSigningRequests().Create(ctx, &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "smoke-bob-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:           pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER}),
			SignerName:        certificatesv1.KubeAPIServerClientSignerName,
			ExpirationSeconds: &expiration,
			Usages:            []certificatesv1.KeyUsage{certificatesv1.UsageClientAuth},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create CSR: %v", err)
	}
	t.Cleanup(func() {
		_ = client.CertificatesV1().CertificateSigningRequests().Delete(ctx, csr.Name, metav1.DeleteOptions{})
	})
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "SmokeTest", Message: "approved by the smoke test",
	})
	if _, err := client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, csr.Name, csr, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("approve CSR: %v", err)
	}
	approved := time.Now()
	var certPEM []byte
	eventually(t, 30*time.Second, "CSR signed", func() (bool, error) {
		got, err := client.CertificatesV1().CertificateSigningRequests().Get(ctx, csr.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		certPEM = got.Status.Certificate
		return len(certPEM) > 0, nil
	})
	t.Logf("CSR signed %s after approval", time.Since(approved).Round(time.Millisecond))

	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("signed certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	// The signer backdates NotBefore by up to 5 minutes; NotAfter honours expirationSeconds.
	if left := time.Until(cert.NotAfter); left > 10*time.Minute+time.Minute || left < 9*time.Minute {
		t.Errorf("certificate expires in %s, want about 10 minutes", left)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	base := adminConfig(t, testEnv.Management().Kubeconfig)
	bob := kubernetes.NewForConfigOrDie(&rest.Config{Host: base.Host, TLSClientConfig: rest.TLSClientConfig{
		CAData: base.CAData, CertData: certPEM, KeyData: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}})
	review, err := bob.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("whoami with the signed certificate: %v", err)
	}
	user := review.Status.UserInfo
	if user.Username != "bob" || !slices.Contains(user.Groups, "devs") || !slices.Contains(user.Groups, "qa") || !slices.Contains(user.Groups, "system:authenticated") {
		t.Errorf("certificate authenticated as %q %v, want bob in devs, qa, system:authenticated", user.Username, user.Groups)
	}
}

// TestClustersAreIndependent checks that one process runs several control planes, each
// with its own PKI: the management admin certificate means nothing to a workload cluster.
func TestClustersAreIndependent(t *testing.T) {
	t.Parallel()
	if len(testEnv.Clusters) < 2 {
		t.Fatalf("environment has %d control plane(s); the integration tests need a workload cluster too", len(testEnv.Clusters))
	}
	ctx := testContext(t)
	mgmt, workload := testEnv.Clusters[0], testEnv.Clusters[1]
	if mgmt.APIURL == workload.APIURL || mgmt.ClusterCACert == workload.ClusterCACert {
		t.Fatalf("clusters share an endpoint or CA: %+v %+v", mgmt, workload)
	}
	wl := kubernetes.NewForConfigOrDie(adminConfig(t, workload.Kubeconfig))
	ns, err := wl.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "only-in-workload-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace in %s: %v", workload.Name, err)
	}
	t.Cleanup(func() { _ = wl.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}) })
	if _, err := adminClient(t).CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s of %s visible in management cluster: err = %v", ns.Name, workload.Name, err)
	}

	// The management admin's client certificate, presented to the workload cluster.
	m := adminConfig(t, mgmt.Kubeconfig)
	w := adminConfig(t, workload.Kubeconfig)
	cross := kubernetes.NewForConfigOrDie(&rest.Config{Host: w.Host, TLSClientConfig: rest.TLSClientConfig{
		CAData: w.CAData, CertData: m.CertData, KeyData: m.KeyData,
	}})
	_, err = cross.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if !apierrors.IsUnauthorized(err) && !apierrors.IsForbidden(err) {
		t.Errorf("management admin certificate against %s: err = %v, want Unauthorized or Forbidden", workload.Name, err)
	}
}
