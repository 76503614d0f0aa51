// SPDX-License-Identifier: Apache-2.0

package csr

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/certauthority"
)

// fakeCluster is a fake clientset whose "controller manager" signs approved CSRs with ca
// (or denies them), recording the CSR it saw.
func fakeCluster(t *testing.T, ca *certauthority.CA, deny bool) (*fake.Clientset, *[]certificatesv1.CertificateSigningRequest) {
	t.Helper()
	client := fake.NewClientset()
	var seen []certificatesv1.CertificateSigningRequest
	client.PrependReactor("create", "certificatesigningrequests", func(a clienttesting.Action) (bool, runtime.Object, error) {
		obj := a.(clienttesting.CreateAction).GetObject().(*certificatesv1.CertificateSigningRequest)
		obj.Name = obj.GenerateName + "abc" // the fake tracker does not generate names
		return false, nil, nil
	})
	client.PrependReactor("update", "certificatesigningrequests", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "approval" {
			return false, nil, nil
		}
		obj := a.(clienttesting.UpdateAction).GetObject().(*certificatesv1.CertificateSigningRequest).DeepCopy()
		seen = append(seen, *obj)
		if deny {
			obj.Status.Conditions = append(obj.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateFailed, Status: corev1.ConditionTrue, Message: "signer refused"})
		} else {
			block, _ := pem.Decode(obj.Spec.Request)
			req, _ := x509.ParseCertificateRequest(block.Bytes)
			obj.Status.Certificate = signCSR(t, ca, req, time.Duration(*obj.Spec.ExpirationSeconds)*time.Second)
		}
		return true, obj, client.Tracker().Update(certificatesv1.SchemeGroupVersion.WithResource("certificatesigningrequests"), obj, "")
	})
	return client, &seen
}

func TestIssueClientCert(t *testing.T) {
	t.Parallel()
	ca, err := certauthority.New("cluster", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	client, seen := fakeCluster(t, ca, false)
	iss, err := New(client, 5*time.Minute, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := iss.IssueClientCert(context.Background(), "pinny", []string{"seals", "admins"})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(kp.CertPEM)
	cert, _ := x509.ParseCertificate(block.Bytes)
	if cert.Subject.CommonName != "pinny" || !slices.Equal(cert.Subject.Organization, []string{"seals", "admins"}) {
		t.Errorf("subject %v", cert.Subject)
	}
	if len(*seen) != 1 {
		t.Fatalf("saw %d approvals", len(*seen))
	}
	csr := (*seen)[0]
	if csr.Spec.SignerName != certificatesv1.KubeAPIServerClientSignerName || *csr.Spec.ExpirationSeconds != 600 {
		t.Errorf("CSR signer %s expirationSeconds %d, want kube-apiserver-client and 600 (the 10-minute minimum)", csr.Spec.SignerName, *csr.Spec.ExpirationSeconds)
	}
	if c := csr.Status.Conditions; len(c) != 1 || c[0].Type != certificatesv1.CertificateApproved {
		t.Errorf("approval conditions %+v", c)
	}
	keyBlock, _ := pem.Decode(kp.KeyPEM)
	key, err := x509.ParsePKCS8PrivateKey(keyBlock.Bytes)
	if ec, ok := key.(*ecdsa.PrivateKey); err != nil || !ok || !ec.PublicKey.Equal(cert.PublicKey) {
		t.Errorf("returned key does not match the certificate: %v", err)
	}
	if list, _ := client.CertificatesV1().CertificateSigningRequests().List(context.Background(), metav1.ListOptions{}); len(list.Items) != 0 {
		t.Errorf("%d CSRs left behind", len(list.Items))
	}
}

func TestIssueClientCertFailures(t *testing.T) {
	t.Parallel()
	ca, _ := certauthority.New("cluster", time.Hour)
	denied, _ := fakeCluster(t, ca, true)
	iss, _ := New(denied, MinTTL, 5*time.Second)
	if _, err := iss.IssueClientCert(context.Background(), "u", nil); err == nil || !strings.Contains(err.Error(), "signer refused") {
		t.Errorf("denied: %v", err)
	}
	noSigner := fake.NewClientset() // nothing signs
	noSigner.PrependReactor("create", "certificatesigningrequests", func(a clienttesting.Action) (bool, runtime.Object, error) {
		a.(clienttesting.CreateAction).GetObject().(*certificatesv1.CertificateSigningRequest).Name = "x"
		return false, nil, nil
	})
	iss, _ = New(noSigner, MinTTL, 300*time.Millisecond)
	if _, err := iss.IssueClientCert(context.Background(), "u", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("no signer: %v, want a timeout", err)
	}
	if _, err := iss.IssueClientCert(context.Background(), "", nil); !errors.Is(err, certauthority.ErrEmptyUsername) {
		t.Errorf("empty username: %v", err)
	}
	if _, err := New(noSigner, 2*time.Hour, time.Second); !errors.Is(err, certauthority.ErrTTLOutOfRange) {
		t.Errorf("2h TTL: %v", err)
	}
}

func TestStrategy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	allowed := true
	client := fake.NewClientset()
	client.PrependReactor("create", "selfsubjectaccessreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
		r := a.(clienttesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview)
		r.Status.Allowed = allowed || r.Spec.ResourceAttributes.Verb != "approve"
		return true, r, nil
	})
	iss, _ := New(client, MinTTL, time.Second)
	allowed = false
	if s := iss.Strategy(ctx); s.Reason != configv1alpha1.ErrorDuringSetupStrategyReason || !strings.Contains(s.Message, "approve signers kubernetes.io/kube-apiserver-client") {
		t.Errorf("without approve permission: %+v", s)
	}
	allowed = true
	if s := iss.Strategy(ctx); s.Reason != configv1alpha1.CouldNotGetClusterInfoStrategyReason {
		t.Errorf("without cluster-info: %+v", s)
	}
	_, _ = client.CoreV1().ConfigMaps("kube-public").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-public", Name: "cluster-info"},
		Data:       map[string]string{"kubeconfig": "apiVersion: v1\nkind: Config\nclusters:\n- name: ''\n  cluster: {server: 'https://127.0.0.1:6443', certificate-authority-data: Zm9v}\n"},
	}, metav1.CreateOptions{})
	s := iss.Strategy(ctx)
	if s.Status != configv1alpha1.SuccessStrategyStatus || s.Reason != configv1alpha1.CSRSignerAvailableStrategyReason || s.Frontend.TokenCredentialRequestInfo.Server != "https://127.0.0.1:6443" {
		t.Errorf("ready: %+v", s)
	}
}

// signCSR signs req's public key as a cluster signer would.
func signCSR(t *testing.T, ca *certauthority.CA, req *x509.CertificateRequest, ttl time.Duration) []byte {
	t.Helper()
	caCertPEM, caKeyPEM, err := ca.PEM()
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := pem.Decode(caCertPEM)
	caCert, _ := x509.ParseCertificate(cb.Bytes)
	kb, _ := pem.Decode(caKeyPEM)
	caKey, _ := x509.ParsePKCS8PrivateKey(kb.Bytes)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: req.Subject,
		NotBefore: time.Now(), NotAfter: time.Now().Add(ttl), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, caCert, req.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
