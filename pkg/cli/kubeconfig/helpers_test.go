// SPDX-License-Identifier: Apache-2.0

package kubeconfig

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/apis/suffix"
	"github.com/selkie-dev/selkie/pkg/cli/internal/oidcclient"
)

// adminSecrets are the source kubeconfig's credentials, which must never be copied.
type adminSecrets struct {
	certPEM, keyPEM []byte
	token           string
}

func newAdminSecrets(t *testing.T) adminSecrets {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return adminSecrets{certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), token: "admin-bearer-token-s3cr3t"}
}

// testEnv is a cluster, a supervisor and the concierge objects the command discovers.
type testEnv struct {
	apiServer   *httptest.Server // the source cluster; answers 403 to anonymous GETs
	caPEM       []byte           // of every httptest TLS server here
	supervisor  *httptest.Server
	issuer      string
	idps        []oidcclient.IdentityProvider
	noIDPs      bool     // the issuer does not advertise IdP discovery (a plain OIDC issuer)
	scopes      []string // the issuer's scopes_supported; nil leaves it out
	kubeconfig  string
	secrets     adminSecrets
	objects     []runtime.Object
	client      *dynamicfake.FakeDynamicClient
	restConfigs []*rest.Config // what NewClient was given
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	e := &testEnv{secrets: newAdminSecrets(t),
		idps: []oidcclient.IdentityProvider{{Name: "corp-ldap", Type: "ldap", Flows: []string{"cli_password", "browser_authcode"}}}}
	e.apiServer = newTLSServer(t, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"kind":"Status","code":403}`, http.StatusForbidden)
	})
	e.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.apiServer.Certificate().Raw})
	e.supervisor = newTLSServer(t, e.serveSupervisor)
	e.issuer = e.supervisor.URL + "/fd1"
	e.kubeconfig = writeSourceKubeconfig(t, e.apiServer.URL, e.caPEM, e.secrets)
	return e
}

// newTLSServer is an httptest TLS server that does not log handshake failures (some
// tests make them on purpose).
func newTLSServer(t *testing.T, handler http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(handler)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func (e *testEnv) serveSupervisor(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/fd1/.well-known/openid-configuration":
		doc := map[string]any{"issuer": e.issuer, "authorization_endpoint": e.issuer + "/oauth2/authorize",
			"token_endpoint": e.issuer + "/oauth2/token", "jwks_uri": e.issuer + "/jwks.json", "response_types_supported": []string{"code"}}
		if e.scopes != nil {
			doc["scopes_supported"] = e.scopes
		}
		if !e.noIDPs {
			doc["discovery.supervisor.pinniped.dev/v1alpha1"] = map[string]any{"pinniped_identity_providers_endpoint": e.issuer + "/v1alpha1/pinniped_identity_providers"}
		}
		_ = json.NewEncoder(w).Encode(doc)
	case "/fd1/v1alpha1/pinniped_identity_providers":
		_ = json.NewEncoder(w).Encode(map[string]any{"pinniped_identity_providers": e.idps})
	default:
		http.NotFound(w, r)
	}
}

// writeSourceKubeconfig writes an admin kubeconfig with a client certificate and a token.
func writeSourceKubeconfig(t *testing.T, server string, caPEM []byte, s adminSecrets) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kind-a"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.Clusters["other"] = &clientcmdapi.Cluster{Server: "https://other.example.com", CertificateAuthorityData: caPEM}
	cfg.AuthInfos["kind-a-admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: s.certPEM, ClientKeyData: s.keyPEM, Token: s.token}
	cfg.Contexts["kind-a"] = &clientcmdapi.Context{Cluster: "kind-a", AuthInfo: "kind-a-admin", Namespace: "default"}
	cfg.Contexts["other"] = &clientcmdapi.Context{Cluster: "other", AuthInfo: "kind-a-admin"}
	cfg.CurrentContext = "kind-a"
	path := filepath.Join(t.TempDir(), "admin.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// deps returns Deps around a fake client holding e.objects.
func (e *testEnv) deps(stdout, stderr *bytes.Buffer) Deps {
	listKinds := map[schema.GroupVersionResource]string{}
	for _, sfx := range []string{suffix.Default, "pinniped.dev"} {
		for resource, kind := range map[string]string{"credentialissuers": "CredentialIssuerList"} {
			listKinds[gvr(configv1alpha1.GroupName, resource, sfx)] = kind
		}
		for resource, kind := range map[string]string{"jwtauthenticators": "JWTAuthenticatorList", "webhookauthenticators": "WebhookAuthenticatorList"} {
			listKinds[gvr(authenticationv1alpha1.GroupName, resource, sfx)] = kind
		}
	}
	e.client = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds, e.objects...)
	return Deps{
		GetPathToSelf: func() (string, error) { return "/usr/local/bin/selkie", nil },
		NewClient: func(cfg *rest.Config) (dynamic.Interface, error) {
			e.restConfigs = append(e.restConfigs, cfg)
			return e.client, nil
		},
		Stdout: stdout, Stderr: stderr, PollInterval: 10 * time.Millisecond,
	}
}

// run runs `get kubeconfig` with args (the source kubeconfig first).
func (e *testEnv) run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	return e.runWith(t, func(*Deps) {}, args...)
}

func (e *testEnv) runWith(t *testing.T, adjust func(*Deps), args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	deps := e.deps(&stdout, &stderr)
	adjust(&deps)
	cmd := NewCommand(deps)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetOut(&stderr)
	cmd.SetErr(&stderr)
	cmd.SetArgs(append([]string{"--kubeconfig", e.kubeconfig}, args...))
	err := cmd.Execute()
	return stdout.String(), stderr.String(), err
}

func gvr(baseGroup, resource, sfx string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: suffix.Group(baseGroup, sfx), Version: "v1alpha1", Resource: resource}
}

// toUnstructured turns a typed object into what the API server of suffix sfx returns.
func toUnstructured(t *testing.T, obj runtime.Object, apiVersion, kind string) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	return u
}

func credentialIssuer(t *testing.T, sfx, name string, strategies ...configv1alpha1.CredentialIssuerStrategy) *unstructured.Unstructured {
	t.Helper()
	ci := &configv1alpha1.CredentialIssuer{Status: configv1alpha1.CredentialIssuerStatus{Strategies: strategies}}
	ci.Name = name
	return toUnstructured(t, ci, suffix.Group(configv1alpha1.GroupName, sfx)+"/v1alpha1", "CredentialIssuer")
}

func tcrStrategy() configv1alpha1.CredentialIssuerStrategy {
	return configv1alpha1.CredentialIssuerStrategy{Type: configv1alpha1.KubeClusterSigningCertificateStrategyType,
		Status: configv1alpha1.SuccessStrategyStatus, Reason: configv1alpha1.FetchedKeyStrategyReason, Message: configv1alpha1.FetchedKeyStrategyMessage,
		Frontend: &configv1alpha1.CredentialIssuerFrontend{Type: configv1alpha1.TokenCredentialRequestAPIFrontendType,
			TokenCredentialRequestInfo: &configv1alpha1.TokenCredentialRequestAPIInfo{Server: "https://cluster-info.invalid", CertificateAuthorityData: "Y2E="}}}
}

func failedStrategy(typ configv1alpha1.StrategyType, reason configv1alpha1.StrategyReason) configv1alpha1.CredentialIssuerStrategy {
	return configv1alpha1.CredentialIssuerStrategy{Type: typ, Status: configv1alpha1.ErrorStrategyStatus, Reason: reason, Message: "not today"}
}

func proxyStrategy(endpoint string, caPEM []byte) configv1alpha1.CredentialIssuerStrategy {
	return configv1alpha1.CredentialIssuerStrategy{Type: configv1alpha1.ImpersonationProxyStrategyType,
		Status: configv1alpha1.SuccessStrategyStatus, Reason: configv1alpha1.ListeningStrategyReason, Message: configv1alpha1.ListeningStrategyMessage,
		Frontend: &configv1alpha1.CredentialIssuerFrontend{Type: configv1alpha1.ImpersonationProxyFrontendType,
			ImpersonationProxyInfo: &configv1alpha1.ImpersonationProxyInfo{Endpoint: endpoint, CertificateAuthorityData: base64.StdEncoding.EncodeToString(caPEM)}}}
}

func jwtAuthenticator(t *testing.T, sfx, name, issuer, audience string, tls *authenticationv1alpha1.TLSSpec) *unstructured.Unstructured {
	t.Helper()
	ja := &authenticationv1alpha1.JWTAuthenticator{Spec: authenticationv1alpha1.JWTAuthenticatorSpec{Issuer: issuer, Audience: audience, TLS: tls}}
	ja.Name = name
	return toUnstructured(t, ja, suffix.Group(authenticationv1alpha1.GroupName, sfx)+"/v1alpha1", "JWTAuthenticator")
}

func webhookAuthenticator(t *testing.T, sfx, name string) *unstructured.Unstructured {
	t.Helper()
	wa := &authenticationv1alpha1.WebhookAuthenticator{Spec: authenticationv1alpha1.WebhookAuthenticatorSpec{Endpoint: "https://webhook.example.com"}}
	wa.Name = name
	return toUnstructured(t, wa, suffix.Group(authenticationv1alpha1.GroupName, sfx)+"/v1alpha1", "WebhookAuthenticator")
}

func caData(pemData []byte) *authenticationv1alpha1.TLSSpec {
	return &authenticationv1alpha1.TLSSpec{CertificateAuthorityData: base64.StdEncoding.EncodeToString(pemData)}
}

// plainObject is an unstructured core or aggregation object.
func plainObject(apiVersion, kind, namespace, name string, fields map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	for k, v := range fields {
		u.Object[k] = v
	}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(namespace)
	u.SetName(name)
	return u
}

// standard is the usual install: one CredentialIssuer, one JWTAuthenticator trusting
// the supervisor.
func (e *testEnv) standard(t *testing.T) {
	t.Helper()
	e.objects = append(e.objects, credentialIssuer(t, suffix.Default, "selkie-concierge-config", tcrStrategy()),
		jwtAuthenticator(t, suffix.Default, "supervisor", e.issuer, "cluster-a", caData(e.caPEM)))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// parse decodes the command's output.
func parse(t *testing.T, out string) *clientcmdapi.Config {
	t.Helper()
	cfg, err := clientcmd.Load([]byte(out))
	if err != nil {
		t.Fatalf("output is not a kubeconfig: %v\n%s", err, out)
	}
	return cfg
}

// execOf returns the exec config of the output's current context.
func execOf(t *testing.T, cfg *clientcmdapi.Config) *clientcmdapi.ExecConfig {
	t.Helper()
	ctx := cfg.Contexts[cfg.CurrentContext]
	if ctx == nil || cfg.AuthInfos[ctx.AuthInfo] == nil || cfg.AuthInfos[ctx.AuthInfo].Exec == nil {
		t.Fatalf("no exec user in the current context %q", cfg.CurrentContext)
	}
	return cfg.AuthInfos[ctx.AuthInfo].Exec
}
