// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	conciergeclient "github.com/selkie-dev/selkie/generated/client/concierge/clientset/versioned"
	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
	identityv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/identity/v1alpha1"
	loginv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/login/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/logfingerprint"
	"github.com/selkie-dev/selkie/test/env"
)

// TestConciergeLoginWithDexToken is the concierge's main path: a JWTAuthenticator
// trusting Dex becomes Ready, a Dex ID token buys a client certificate through an
// anonymous TokenCredentialRequest, RBAC on the user's Dex groups decides what the
// certificate may do, and WhoAmIRequest reports the same identity.
func TestConciergeLoginWithDexToken(t *testing.T) {
	t.Parallel()
	c := sharedConcierge(t)
	ctx := testContext(t)
	name := createJWTAuthenticator(t, c.cluster, testEnv.Dex.ClientID)
	user, _ := testEnv.User("pinny")
	token := dexIDToken(t, user)

	resp := tokenCredentialRequest(t, c.cluster, token, name)
	if resp.Status.Message != nil || resp.Status.Credential == nil {
		t.Fatalf("login failed: message %v; audit reason: %s", deref(resp.Status.Message), c.auditReason(t, token, "JWTAuthenticator", name))
	}
	cred := resp.Status.Credential
	cert := parseCert(t, cred.ClientCertificateData)
	if cert.Subject.CommonName != user.Email || !slices.Equal(cert.Subject.Organization, user.Groups) {
		t.Errorf("certificate for %q %v, want %q %v", cert.Subject.CommonName, cert.Subject.Organization, user.Email, user.Groups)
	}
	if life := time.Until(cert.NotAfter); life > 5*time.Minute || life < 4*time.Minute || !cred.ExpirationTimestamp.Time.Equal(cert.NotAfter) {
		t.Errorf("certificate expires in %s (status says %s), want 5 minutes", life, cred.ExpirationTimestamp)
	}

	cluster := testEnv.Clusters[c.cluster]
	base := adminConfig(t, cluster.Kubeconfig)
	asUser := &rest.Config{Host: base.Host, TLSClientConfig: rest.TLSClientConfig{
		CAData: base.CAData, CertData: []byte(cred.ClientCertificateData), KeyData: []byte(cred.ClientKeyData)}}
	userKube := kubernetes.NewForConfigOrDie(asUser)
	// The real client, with only the certificate in its kubeconfig.
	userKubeconfig := writeCertKubeconfig(t, cluster.APIURL, base.CAData, cred.ClientCertificateData, cred.ClientKeyData)
	if _, errOut, err := kubectlWith(t, userKubeconfig, "get", "namespaces"); err == nil || !strings.Contains(errOut, "Forbidden") {
		t.Fatalf("before any RBAC, kubectl get namespaces: %v %s, want Forbidden", err, errOut)
	}
	grantNamespaceReader(t, c.cluster, "seals/admins")
	eventually(t, 15*time.Second, "RBAC for group seals/admins applies to the certificate", func() (bool, error) {
		_, errOut, err := kubectlWith(t, userKubeconfig, "get", "namespaces")
		return err == nil, fmt.Errorf("%v: %s", err, errOut)
	})
	if _, err := userKube.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing secrets, which no role grants: %v, want Forbidden", err)
	}

	who, err := conciergeclient.NewForConfigOrDie(asUser).IdentityV1alpha1().WhoAmIRequests().Create(ctx, &identityv1alpha1.WhoAmIRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("WhoAmIRequest with the certificate: %v", err)
	}
	got := who.Status.KubernetesUserInfo.User
	if got.Username != user.Email || !slices.Equal(got.Groups, append(slices.Clone(user.Groups), "system:authenticated")) {
		t.Errorf("WhoAmIRequest says %q %v, want %q %v + system:authenticated", got.Username, got.Groups, user.Email, user.Groups)
	}
}

// TestTokenCredentialRequestFailures checks that every bad request gets the generic
// failure (or the contract's API error), a precise reason in the audit log, and no
// certificate.
func TestTokenCredentialRequestFailures(t *testing.T) {
	t.Parallel()
	c := sharedConcierge(t)
	dex := createJWTAuthenticator(t, c.cluster, testEnv.Dex.ClientID)
	otherAudience := createJWTAuthenticator(t, c.cluster, "some-other-cluster")
	user, _ := testEnv.User("pinny")
	token := dexIDToken(t, user)
	parts := strings.Split(token, ".")
	forged := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString([]byte("not the signature"))

	tests := []struct {
		name, token, authenticator, kind string
		wantReason                       string
	}{
		{name: "garbage token", token: "garbage", authenticator: dex, wantReason: "token rejected"},
		{name: "forged signature", token: forged, authenticator: dex, wantReason: "token rejected"},
		{name: "wrong audience", token: token, authenticator: otherAudience, wantReason: "token rejected"},
		{name: "unknown authenticator", token: token, authenticator: "no-such-authenticator", wantReason: "no ready authenticator"},
		{name: "wrong kind", token: token, authenticator: dex, kind: "WebhookAuthenticator", wantReason: "no ready authenticator"},
		{name: "1 MB token", token: strings.Repeat("a", 1<<20), authenticator: dex, wantReason: "token rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kind := tt.kind
			if kind == "" {
				kind = "JWTAuthenticator"
			}
			resp := tokenCredentialRequestKind(t, c.cluster, tt.token, kind, tt.authenticator)
			if resp.Status.Credential != nil || resp.Status.Message == nil || *resp.Status.Message != "authentication failed" {
				t.Errorf("want only the generic failure, got %+v", resp.Status)
			}
			if reason := c.auditReason(t, tt.token, kind, tt.authenticator); !strings.Contains(reason, tt.wantReason) {
				t.Errorf("audit reason %q, want it to contain %q", reason, tt.wantReason)
			}
		})
	}

	t.Run("request errors", func(t *testing.T) {
		t.Parallel()
		client := anonymousConciergeClient(t, c.cluster).LoginV1alpha1().TokenCredentialRequests()
		ctx := testContext(t)
		_, err := client.Create(ctx, newTCR(token, "JWTAuthenticator", dex), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if !apierrors.IsInvalid(err) {
			t.Errorf("dry run: %v, want 422 Invalid", err)
		}
		_, err = client.Create(ctx, newTCR("", "JWTAuthenticator", dex), metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "token must be supplied") {
			t.Errorf("empty token: %v, want 422 with the contract's message", err)
		}
		// TokenCredentialRequest is cluster-scoped: a namespaced path is not routed at all
		// (the concierge itself also refuses a namespaced request with 400).
		body, _ := json.Marshal(newTCR(token, "JWTAuthenticator", dex))
		raw := anonymousConciergeClient(t, c.cluster).LoginV1alpha1().RESTClient().Post().AbsPath(
			"/apis/login.concierge.selkie.dev/v1alpha1/namespaces/default/tokencredentialrequests").Body(body).Do(ctx)
		if err := raw.Error(); !apierrors.IsNotFound(err) {
			t.Errorf("namespaced request: %v, want 404", err)
		}
		out, errOut, err := kubectlWith(t, testEnv.Clusters[c.cluster].Kubeconfig, "get", "--raw", "/apis/login.concierge.selkie.dev/v1alpha1/tokencredentialrequests")
		var list loginv1alpha1.TokenCredentialRequestList
		if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list.Items) != 0 || list.ResourceVersion != "0" {
			t.Errorf("list: %v %s %q; want an empty list at resourceVersion 0", err, errOut, out)
		}
	})
}

func createJWTAuthenticator(t testing.TB, cluster int, audience string) string {
	t.Helper()
	return createJWTAuthenticatorIn(t, testEnv.Clusters[cluster].Kubeconfig, audience)
}

// createJWTAuthenticatorIn creates a Ready JWTAuthenticator for Dex in the cluster of kubeconfig.
func createJWTAuthenticatorIn(t testing.TB, kubeconfig, audience string) string {
	t.Helper()
	return createJWTAuthenticatorWith(t, kubeconfig, audience, nil)
}

// createJWTAuthenticatorWith is createJWTAuthenticatorIn with edit applied to the spec.
func createJWTAuthenticatorWith(t testing.TB, kubeconfig, audience string, edit func(*authenticationv1alpha1.JWTAuthenticatorSpec)) string {
	t.Helper()
	ctx := testContext(t)
	client := conciergeclient.NewForConfigOrDie(adminConfig(t, kubeconfig)).AuthenticationV1alpha1().JWTAuthenticators()
	ca, err := os.ReadFile(testEnv.CABundle)
	if err != nil {
		t.Fatal(err)
	}
	spec := authenticationv1alpha1.JWTAuthenticatorSpec{
		Issuer: testEnv.Dex.Issuer, Audience: audience,
		Claims: authenticationv1alpha1.JWTTokenClaims{Username: "email", Groups: "groups"},
		TLS:    &authenticationv1alpha1.TLSSpec{CertificateAuthorityData: base64.StdEncoding.EncodeToString(ca)},
	}
	if edit != nil {
		edit(&spec)
	}
	ja, err := client.Create(ctx, &authenticationv1alpha1.JWTAuthenticator{ObjectMeta: metav1.ObjectMeta{GenerateName: "dex-"}, Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create JWTAuthenticator: %v", err)
	}
	t.Cleanup(func() { _ = client.Delete(context.Background(), ja.Name, metav1.DeleteOptions{}) })
	eventually(t, 30*time.Second, "JWTAuthenticator "+ja.Name+" Ready", func() (bool, error) {
		got, err := client.Get(ctx, ja.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return got.Status.Phase == authenticationv1alpha1.JWTAuthenticatorPhaseReady, fmt.Errorf("phase %q, conditions %+v", got.Status.Phase, got.Status.Conditions)
	})
	return ja.Name
}

func dexIDToken(t testing.TB, user env.User) string {
	t.Helper()
	ctx := oidc.ClientContext(testContext(t), &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: caTLS(t, testEnv.CABundle)}})
	provider, err := oidc.NewProvider(ctx, testEnv.Dex.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: testEnv.Dex.ClientID, ClientSecret: testEnv.Dex.ClientSecret, Endpoint: provider.Endpoint(),
		Scopes: []string{oidc.ScopeOpenID, "groups", "email", "profile"}}
	tok, err := conf.PasswordCredentialsToken(ctx, user.Email, user.Password)
	if err != nil {
		t.Fatalf("Dex password grant for %s: %v", user.Email, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("Dex returned no ID token")
	}
	return raw
}

func anonymousConciergeClient(t testing.TB, cluster int) conciergeclient.Interface {
	t.Helper()
	base := adminConfig(t, testEnv.Clusters[cluster].Kubeconfig)
	// No client-side rate limit: CLIs make one request per login, benchmarks many.
	return conciergeclient.NewForConfigOrDie(&rest.Config{Host: base.Host, TLSClientConfig: rest.TLSClientConfig{CAData: base.CAData}, QPS: -1})
}

func newTCR(token, kind, name string) *loginv1alpha1.TokenCredentialRequest {
	group := "authentication.concierge.selkie.dev"
	return &loginv1alpha1.TokenCredentialRequest{Spec: loginv1alpha1.TokenCredentialRequestSpec{
		Token: token, Authenticator: corev1.TypedLocalObjectReference{APIGroup: &group, Kind: kind, Name: name}}}
}

// tcrBody is newTCR for a JWTAuthenticator as a raw request body (with its apiVersion
// and kind), for tests that send it with plain HTTP.
func tcrBody(token, authenticator string) *loginv1alpha1.TokenCredentialRequest {
	req := newTCR(token, "JWTAuthenticator", authenticator)
	req.TypeMeta = metav1.TypeMeta{APIVersion: loginv1alpha1.SchemeGroupVersion.String(), Kind: "TokenCredentialRequest"}
	return req
}

func tokenCredentialRequest(t testing.TB, cluster int, token, authenticator string) *loginv1alpha1.TokenCredentialRequest {
	t.Helper()
	return tokenCredentialRequestKind(t, cluster, token, "JWTAuthenticator", authenticator)
}

// tokenCredentialRequestKind calls the API anonymously, as CLIs do.
func tokenCredentialRequestKind(t testing.TB, cluster int, token, kind, authenticator string) *loginv1alpha1.TokenCredentialRequest {
	t.Helper()
	resp, err := anonymousConciergeClient(t, cluster).LoginV1alpha1().TokenCredentialRequests().Create(testContext(t), newTCR(token, kind, authenticator), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenCredentialRequest: %v", err)
	}
	return resp
}

// auditFingerprintKey is the key the test concierges fingerprint tokens with.
const auditFingerprintKey = "integration-test-log-fingerprint-key-0123456789"

// auditReason finds the concierge's audit line for token (by its keyed fingerprint; the
// token itself is never logged) and authenticator, and returns its message and reason.
func (c *concierge) auditReason(t testing.TB, token, kind, name string) string {
	t.Helper()
	fp := logfingerprint.Compute([]byte(auditFingerprintKey), token)
	var reason string
	eventually(t, 5*time.Second, "audit line for the token", func() (bool, error) {
		f, err := os.Open(c.logFile)
		if err != nil {
			return false, err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 4<<20)
		for sc.Scan() {
			if strings.Contains(sc.Text(), token) && len(token) > 8 {
				t.Errorf("the concierge logged a token: %.200s", sc.Text())
			}
			var line struct {
				TokenFingerprint, Reason, Msg string
				Authenticator                 struct{ Kind, Name string }
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.TokenFingerprint == fp && line.Authenticator.Kind == kind && line.Authenticator.Name == name {
				reason = line.Msg + ": " + line.Reason
				return true, nil
			}
		}
		return false, sc.Err()
	})
	return reason
}

func grantNamespaceReader(t testing.TB, cluster int, group string) {
	t.Helper()
	ctx := testContext(t)
	client := kubernetes.NewForConfigOrDie(adminConfig(t, testEnv.Clusters[cluster].Kubeconfig))
	name := fmt.Sprintf("ns-reader-%d", time.Now().UnixNano())
	if _, err := client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: group}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = client.RbacV1().ClusterRoleBindings().Delete(context.Background(), name, metav1.DeleteOptions{})
		_ = client.RbacV1().ClusterRoles().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

func parseCert(t testing.TB, certPEM string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil {
		t.Fatalf("not PEM: %q", certPEM)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestCredentialIssuerReportsSigningKeyStrategy checks the concierge publishes its
// strategy and the TokenCredentialRequest frontend (from kube-public/cluster-info), which
// `selkie get kubeconfig` and the reference CLI read.
func TestCredentialIssuerReportsSigningKeyStrategy(t *testing.T) {
	t.Parallel()
	c := sharedConcierge(t)
	ctx := testContext(t)
	cluster := testEnv.Clusters[c.cluster]
	client := conciergeclient.NewForConfigOrDie(adminConfig(t, cluster.Kubeconfig)).ConfigV1alpha1().CredentialIssuers()
	ca, err := os.ReadFile(cluster.ClusterCACert)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "CredentialIssuer reports KubeClusterSigningCertificate", func() (bool, error) {
		ci, err := client.Get(ctx, "selkie-concierge-config", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if len(ci.Status.Strategies) == 0 {
			return false, fmt.Errorf("no strategies yet")
		}
		s := ci.Status.Strategies[0]
		ok := s.Type == configv1alpha1.KubeClusterSigningCertificateStrategyType && s.Status == configv1alpha1.SuccessStrategyStatus &&
			s.Reason == configv1alpha1.FetchedKeyStrategyReason && s.Frontend != nil && s.Frontend.TokenCredentialRequestInfo != nil &&
			s.Frontend.TokenCredentialRequestInfo.Server == cluster.APIURL &&
			s.Frontend.TokenCredentialRequestInfo.CertificateAuthorityData == base64.StdEncoding.EncodeToString(ca)
		return ok, fmt.Errorf("strategy %+v frontend %+v", s, s.Frontend)
	})
}

// TestConciergeCSRStrategy runs a concierge that holds no CA key at all: the certificate
// comes from the cluster's own CSR signer (kube-controller-manager), lives the CSR API's
// minimum of 10 minutes, and authenticates at the API server.
func TestConciergeCSRStrategy(t *testing.T) {
	t.Parallel()
	c := csrConcierge(t)
	ctx := testContext(t)
	cluster := testEnv.Clusters[c.cluster]
	name := createJWTAuthenticator(t, c.cluster, testEnv.Dex.ClientID)
	user, _ := testEnv.User("wally")
	token := dexIDToken(t, user)
	start := time.Now()
	resp := tokenCredentialRequest(t, c.cluster, token, name)
	if resp.Status.Credential == nil {
		t.Fatalf("login failed: %s", c.auditReason(t, token, "JWTAuthenticator", name))
	}
	t.Logf("TokenCredentialRequest through the CSR API took %s", time.Since(start).Round(time.Millisecond))
	cred := resp.Status.Credential
	cert := parseCert(t, cred.ClientCertificateData)
	roots := x509.NewCertPool()
	caPEM, err := os.ReadFile(cluster.ClusterCACert)
	if err != nil {
		t.Fatal(err)
	}
	roots.AppendCertsFromPEM(caPEM)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("certificate is not from the cluster's signer: %v", err)
	}
	if life := time.Until(cert.NotAfter); life < 9*time.Minute || life > 11*time.Minute {
		t.Errorf("certificate lives %s more, want about 10 minutes (the CSR API minimum)", life)
	}
	base := adminConfig(t, cluster.Kubeconfig)
	asUser := &rest.Config{Host: base.Host, TLSClientConfig: rest.TLSClientConfig{
		CAData: base.CAData, CertData: []byte(cred.ClientCertificateData), KeyData: []byte(cred.ClientKeyData)}}
	who, err := conciergeclient.NewForConfigOrDie(asUser).IdentityV1alpha1().WhoAmIRequests().Create(ctx, &identityv1alpha1.WhoAmIRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("WhoAmIRequest with the CSR-signed certificate: %v", err)
	}
	if got := who.Status.KubernetesUserInfo.User; got.Username != user.Email || !slices.Contains(got.Groups, "walruses") {
		t.Errorf("WhoAmIRequest says %q %v", got.Username, got.Groups)
	}
	csrs, err := kubernetes.NewForConfigOrDie(base).CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=selkie-concierge"})
	if err != nil || len(csrs.Items) != 0 {
		t.Errorf("concierge left %d CSRs behind (%v)", len(csrs.Items), err)
	}
	client := conciergeclient.NewForConfigOrDie(base).ConfigV1alpha1().CredentialIssuers()
	eventually(t, 30*time.Second, "CredentialIssuer reports KubeCSRSigningCertificate", func() (bool, error) {
		ci, err := client.Get(ctx, "selkie-concierge-config", metav1.GetOptions{})
		if err != nil || len(ci.Status.Strategies) != 1 {
			return false, fmt.Errorf("%v %+v", err, ci)
		}
		s := ci.Status.Strategies[0]
		return s.Type == configv1alpha1.KubeCSRSigningCertificateStrategyType && s.Status == configv1alpha1.SuccessStrategyStatus &&
			s.Reason == configv1alpha1.CSRSignerAvailableStrategyReason && s.Frontend != nil, fmt.Errorf("%+v", s)
	})
}

// writeCertKubeconfig writes a kubeconfig that authenticates with a client certificate only.
func writeCertKubeconfig(t testing.TB, server string, caPEM []byte, certPEM, keyPEM string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{ClientCertificateData: []byte(certPEM), ClientKeyData: []byte(keyPEM)}
	cfg.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "c"
	path := filepath.Join(t.TempDir(), "user.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}
