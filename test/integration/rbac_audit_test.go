// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"

	conciergeclient "github.com/selkie-dev/selkie/generated/client/concierge/clientset/versioned"
	supervisorclient "github.com/selkie-dev/selkie/generated/client/supervisor/clientset/versioned"
	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	sessionv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/supervisor/session/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/concierge/controller/credentialissuer"
	"github.com/selkie-dev/selkie/pkg/supervisor/keys"
	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
	"github.com/selkie-dev/selkie/test/env/demo"
)

// rbacJustified are the permissions deploy/manifests grants that this test cannot make
// the servers use, each with the reason it is granted anyway. A justification for a
// permission that was used, or that the manifests do not grant, fails the test.
var rbacJustified = map[permission]string{
	// Concierge.
	{SA: conciergeSA, Verb: "list", APIGroup: "authentication.concierge.selkie.dev", Resource: "jwtauthenticators", Name: "*"}:     watchListReason,
	{SA: conciergeSA, Verb: "list", APIGroup: "authentication.concierge.selkie.dev", Resource: "webhookauthenticators", Name: "*"}: watchListReason,
	{SA: conciergeSA, Verb: "list", APIGroup: "apiregistration.k8s.io", Resource: "apiservices", Name: "*"}:                        watchListReason,
	{SA: conciergeSA, Verb: "list", Resource: "secrets", Namespace: "selkie-concierge", Name: "*"}:                                 watchListReason,
	{SA: conciergeSA, Verb: "list", Resource: "configmaps", Namespace: "selkie-concierge", Name: "*"}:                              watchListReason,
	{SA: conciergeSA, Verb: "list", Resource: "configmaps", Namespace: "kube-system", Name: "extension-apiserver-authentication"}:  watchListReason,
	// Supervisor.
	{SA: supervisorSA, Verb: "list", APIGroup: "config.supervisor.selkie.dev", Resource: "federationdomains", Namespace: "selkie-supervisor", Name: "*"}:             watchListReason,
	{SA: supervisorSA, Verb: "list", APIGroup: "config.supervisor.selkie.dev", Resource: "oidcclients", Namespace: "selkie-supervisor", Name: "*"}:                   watchListReason,
	{SA: supervisorSA, Verb: "list", APIGroup: "idp.supervisor.selkie.dev", Resource: "oidcidentityproviders", Namespace: "selkie-supervisor", Name: "*"}:            watchListReason,
	{SA: supervisorSA, Verb: "list", APIGroup: "idp.supervisor.selkie.dev", Resource: "ldapidentityproviders", Namespace: "selkie-supervisor", Name: "*"}:            watchListReason,
	{SA: supervisorSA, Verb: "list", APIGroup: "idp.supervisor.selkie.dev", Resource: "activedirectoryidentityproviders", Namespace: "selkie-supervisor", Name: "*"}: watchListReason,
	{SA: supervisorSA, Verb: "list", APIGroup: "idp.supervisor.selkie.dev", Resource: "githubidentityproviders", Namespace: "selkie-supervisor", Name: "*"}:          watchListReason,
	{SA: supervisorSA, Verb: "list", APIGroup: "apiregistration.k8s.io", Resource: "apiservices", Name: "*"}:                                                         watchListReason,
	{SA: supervisorSA, Verb: "list", Resource: "configmaps", Namespace: "selkie-supervisor", Name: "*"}:                                                              watchListReason,
	{SA: supervisorSA, Verb: "list", Resource: "configmaps", Namespace: "kube-system", Name: "extension-apiserver-authentication"}:                                   watchListReason,
}

// watchListReason justifies list for a resource the server only reads through an
// informer. Informers start with a streaming watch (WatchList: sendInitialEvents=true)
// where the API server serves it, as this one does, and list only where it does not,
// so list stays granted for such clusters. checkAudit requires the streaming watch.
const watchListReason = "the informer's initial list on API servers without WatchList; here it streams the initial state with watch (sendInitialEvents)"

// TestRBACAudit runs the demo's flow (both servers out of cluster with the manifests'
// ServiceAccount identities, on control planes with audit logs) and then more of what the
// servers do, and compares the requests the API servers audited for the three
// ServiceAccounts with what deploy/manifests grants them: nothing may be denied, and
// every granted permission must be used or justified in rbacJustified.
func TestRBACAudit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dir := t.TempDir()
	d := startDemo(t, ctx, demo.Options{Dir: dir, Bin: filepath.Join(dir, "bin"), Audit: true})

	mgmtAudit, workloadAudit := d.Mgmt.AuditLog, d.Workload.AuditLog
	exerciseSupervisor(t, ctx, d)
	exerciseConcierge(t, ctx, d)

	// Stopping lets the servers' last requests (and their watches' ends) reach the log;
	// the log mode is blocking, so it is complete once they have exited.
	d.StopServers()
	var reqs []request
	for _, path := range []string{mgmtAudit, workloadAudit} {
		rs, err := readAudit(path)
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, rs...)
	}
	var grants []grant
	for component, kubeconfig := range map[string]string{"supervisor": d.Mgmt.AdminKubeconfig, "concierge": d.Workload.AdminKubeconfig} {
		grants = append(grants, manifestGrants(t, ctx, kubernetes.NewForConfigOrDie(adminConfig(t, kubeconfig)), component)...)
	}
	checkAudit(t, dir, reqs, grants)
}

// checkAudit fails on denied requests and on granted permissions neither used nor
// justified, and logs and writes the usage table.
func checkAudit(t *testing.T, dir string, reqs []request, grants []grant) {
	t.Helper()
	var all []request
	seen := map[string]int{}
	for _, r := range reqs {
		seen[r.SA]++
		switch {
		case r.Code == 403 && r.Impersonated != nil && !strings.Contains(r.Message, "impersonate"):
			// The impersonated user was denied, not the proxy: not an RBAC gap of ours.
			t.Logf("forwarded request denied to %s: %s %s (%s)", r.Impersonated.Username, r.Verb, groupResource(r.APIGroup, r.Resource), r.Message)
		case r.Code == 403:
			t.Errorf("DENIED: %s %s %s in %q name %q: %s", shortSA(r.SA), r.Verb, groupResource(r.APIGroup, r.Resource), r.Namespace, r.Name, r.Message)
		}
		all = append(all, r)
		all = append(all, impersonationChecks(r)...)
	}
	for _, sa := range []string{supervisorSA, conciergeSA, proxySA} {
		if seen[sa] == 0 {
			t.Errorf("no audited request of %s: did the servers run as the manifests' ServiceAccounts?", sa)
		}
	}

	used := map[permission]int{}
	granted := map[permission]string{}
	for _, g := range grants {
		granted[g.permission] = g.rule
		for _, r := range all {
			if r.Code != 403 && g.covers(r) {
				used[g.permission]++
			}
		}
	}
	var unused []string
	for p, rule := range granted {
		reason, justified := rbacJustified[p]
		switch {
		case used[p] > 0 && justified:
			t.Errorf("stale justification: %s was used %d times (%q)", p, used[p], reason)
		case used[p] == 0 && !justified:
			unused = append(unused, fmt.Sprintf("%s  (%s)", p, rule))
		}
	}
	for p, reason := range rbacJustified {
		if _, ok := granted[p]; !ok {
			t.Errorf("stale justification: %s is not granted by deploy/manifests (%q)", p, reason)
		}
		if reason == watchListReason && !streamed(all, p) {
			t.Errorf("%s is justified as an informer's list, but no streaming watch of it was audited", p)
		}
	}
	if len(unused) > 0 {
		slices.Sort(unused)
		t.Errorf("granted but neither used nor justified in rbacJustified (%d):\n  %s", len(unused), strings.Join(unused, "\n  "))
	}

	allowed := make([]request, 0, len(all))
	for _, r := range all {
		if r.Code != 403 {
			allowed = append(allowed, r)
		}
	}
	table := formatUsage(usageTable(allowed, grants))
	path := filepath.Join(dir, "rbac-usage.txt")
	var justified []string
	for p, reason := range rbacJustified {
		justified = append(justified, fmt.Sprintf("  %s: %s", p, reason))
	}
	slices.Sort(justified)
	just := strings.Join(justified, "\n")
	if err := os.WriteFile(path, []byte(table+"\njustified, not used here:\n"+just+"\n"), 0o600); err != nil {
		t.Error(err)
	}
	t.Logf("requests of the ServiceAccounts (%s):\n%s\njustified, not used here:\n%s", path, table, just)
}

// streamed says whether the audit log shows an informer's streaming watch that p's list
// would otherwise serve.
func streamed(reqs []request, p permission) bool {
	for _, r := range reqs {
		w := p
		w.Verb = "watch"
		if r.InitialEvents && r.Code < 300 && w.covers(r) {
			return true
		}
	}
	return false
}

// waitAudited waits up to 60 s until the audit log shows a request matching match.
func waitAudited(t *testing.T, path, what string, match func(request) bool) {
	t.Helper()
	waitAuditedFor(t, 60*time.Second, path, what, match)
}

func waitAuditedFor(t *testing.T, timeout time.Duration, path, what string, match func(request) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		reqs, err := readAudit(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reqs {
			if match(r) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: not in the audit log within %s", what, timeout)
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func is(sa, verb, resource, name string) func(request) bool {
	return func(r request) bool {
		return r.SA == sa && r.Verb == verb && r.Resource == resource && (name == "" || r.Name == name) && r.Code < 300
	}
}

// exerciseSupervisor makes the supervisor write every kind of Secret it keeps: a client
// secret hash (OIDCClientSecretRequest), a session (login as a user the flow has not
// used with Dex) updated by a refresh and deleted through the SupervisorSession API,
// and a signing key rotated on request.
func exerciseSupervisor(t *testing.T, ctx context.Context, d *demo.Demo) {
	t.Helper()
	ns, audit := demo.SupervisorNamespace, d.Mgmt.AuditLog
	sup := supervisorclient.NewForConfigOrDie(adminConfig(t, d.Mgmt.AdminKubeconfig))

	if err := d.Apply(ctx, d.Mgmt.AdminKubeconfig, "oidcclient.yaml", oidcClientYAML(ns)); err != nil {
		t.Fatal(err)
	}
	waitAudited(t, audit, "the supervisor reports the OIDCClient's status", is(supervisorSA, "update", "oidcclients/status", testClientID))
	requests := sup.ClientSecretV1alpha1().OIDCClientSecretRequests(ns)
	for _, revoke := range []bool{false, true} {
		if _, err := requests.Create(ctx, secretRequest(true, revoke), metav1.CreateOptions{}); err != nil {
			t.Fatalf("OIDCClientSecretRequest (revoke %v): %v", revoke, err)
		}
	}
	waitAudited(t, audit, "the supervisor updates the client secret Secret", is(supervisorSA, "update", "secrets", ""))

	caPEM, err := os.ReadFile(d.SupervisorCAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	s := &supervisor{namespace: ns, addr: d.Env.SupervisorAddr, caPEM: caPEM, t: t,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	wally, _ := d.Env.User("wally") // the flow logs pinny in with Dex; Dex keeps one refresh token per user and client
	tokens := s.passwordLogin(t, "/demo", "dex", wally.Email, wally.Password)
	refreshed, status, body := s.tokenRequest(t, "/demo", url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {tokens.RefreshToken}, "client_id": {oidcprovider.CLIClientID}})
	if status != http.StatusOK || refreshed.IDToken == "" {
		t.Errorf("refresh: %d %s", status, body)
	}
	sessions := sup.SessionV1alpha1().SupervisorSessions(ns)
	list, err := sessions.List(ctx, metav1.ListOptions{FieldSelector: sessionv1alpha1.FieldSelectorUsername + "=" + wally.Email})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("sessions of %s: %v %v", wally.Email, list, err)
	}
	if err := sessions.Delete(ctx, list.Items[0].Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAudited(t, audit, "the supervisor deletes the session's Secret", is(supervisorSA, "delete", "secrets", ""))

	kube := kubernetes.NewForConfigOrDie(adminConfig(t, d.Mgmt.AdminKubeconfig))
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, keys.RotateAnnotation, strconv.FormatInt(time.Now().UnixNano(), 10))
	if _, err := kube.CoreV1().Secrets(ns).Patch(ctx, "demo-jwks", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAudited(t, audit, "the supervisor rotates the signing key", is(supervisorSA, "update", "secrets", "demo-jwks"))

	// Every kind of IdP reports its status, one with its CA in a ConfigMap.
	caBundle, err := os.ReadFile(d.Env.CABundle)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(ctx, d.Mgmt.AdminKubeconfig, "more-idps.yaml", fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: dex-ca, namespace: %[1]s}
data: {ca.crt: %[2]q}
---
apiVersion: idp.supervisor.selkie.dev/v1alpha1
kind: OIDCIdentityProvider
metadata: {name: dex-ca-configmap, namespace: %[1]s}
spec:
  issuer: %[3]q
  tls: {certificateAuthorityDataSource: {kind: ConfigMap, name: dex-ca, key: ca.crt}}
  client: {secretName: dex-client}
---
apiVersion: idp.supervisor.selkie.dev/v1alpha1
kind: ActiveDirectoryIdentityProvider
metadata: {name: ad, namespace: %[1]s}
spec:
  host: "127.0.0.1:1"
  bind: {secretName: ad-bind}
---
apiVersion: idp.supervisor.selkie.dev/v1alpha1
kind: GitHubIdentityProvider
metadata: {name: github, namespace: %[1]s}
spec:
  githubAPI: {host: "127.0.0.1:1"}
  allowAuthentication:
    organizations: {allowed: [acme]}
  client: {secretName: github-client}
`, ns, caBundle, d.Env.Info.Dex.Issuer)); err != nil {
		t.Fatal(err)
	}
	for name, resource := range map[string]string{"dex-ca-configmap": "oidcidentityproviders/status",
		"ad": "activedirectoryidentityproviders/status", "github": "githubidentityproviders/status"} {
		waitAudited(t, audit, "the supervisor reports the status of "+resource+" "+name, is(supervisorSA, "update", resource, name))
	}

	// A bearer token sent to the aggregated API directly (not through the aggregator)
	// is checked by TokenReview (delegated authentication), then by SubjectAccessReview.
	status = bearerToSupervisorAPI(t, ctx, d)
	if status != http.StatusForbidden {
		t.Errorf("a ServiceAccount token at the supervisor's API: %d, want 403 (authenticated, not authorized)", status)
	}
	waitAudited(t, audit, "the supervisor reviews a token", is(supervisorSA, "create", "tokenreviews", ""))
}

// bearerToSupervisorAPI lists SupervisorSessions at the supervisor's API port with the
// token of the management cluster's default ServiceAccount and returns the status.
func bearerToSupervisorAPI(t *testing.T, ctx context.Context, d *demo.Demo) int {
	t.Helper()
	cfg := adminConfig(t, d.Mgmt.AdminKubeconfig)
	as, err := aggregator.NewForConfigOrDie(cfg).ApiregistrationV1().APIServices().Get(ctx, "v1alpha1.session.supervisor.selkie.dev", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	token := defaultServiceAccountToken(t, ctx, kubernetes.NewForConfigOrDie(cfg))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(as.Spec.CABundle)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool,
		ServerName: as.Spec.Service.Name + "." + as.Spec.Service.Namespace + ".svc", MinVersion: tls.VersionTLS12}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/apis/session.supervisor.selkie.dev/v1alpha1/namespaces/%s/supervisorsessions",
		d.SupervisorAPIPort, demo.SupervisorNamespace), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// defaultServiceAccountToken is a TokenRequest token of default/default.
func defaultServiceAccountToken(t *testing.T, ctx context.Context, kube kubernetes.Interface) string {
	t.Helper()
	var token string
	eventually(t, 30*time.Second, "a token of default/default", func() (bool, error) {
		tr, err := kube.CoreV1().ServiceAccounts("default").CreateToken(ctx, "default", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			return false, err
		}
		token = tr.Status.Token
		return true, nil
	})
	return token
}

// exerciseConcierge uses the impersonation proxy (plain and with nested impersonation of
// a ServiceAccount), makes the concierge report a WebhookAuthenticator's status, and
// turns the proxy off so that its Service is deleted.
func exerciseConcierge(t *testing.T, ctx context.Context, d *demo.Demo) {
	t.Helper()
	audit, admin := d.Workload.AuditLog, d.Workload.AdminKubeconfig
	con := conciergeclient.NewForConfigOrDie(adminConfig(t, admin))

	wa, err := con.AuthenticationV1alpha1().WebhookAuthenticators().Create(ctx, &authenticationv1alpha1.WebhookAuthenticator{
		ObjectMeta: metav1.ObjectMeta{Name: "rbac-audit"},
		Spec:       authenticationv1alpha1.WebhookAuthenticatorSpec{Endpoint: "https://127.0.0.1:1/authenticate"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitAudited(t, audit, "the concierge reports the WebhookAuthenticator's status", is(conciergeSA, "update", "webhookauthenticators/status", wa.Name))

	// A JWTAuthenticator with its CA in a ConfigMap of the concierge's namespace.
	supCA, err := os.ReadFile(d.SupervisorCAFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(ctx, admin, "jwt-ca-configmap.yaml", fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: supervisor-ca, namespace: %[1]s}
data: {ca.crt: %[2]q}
---
apiVersion: authentication.concierge.selkie.dev/v1alpha1
kind: JWTAuthenticator
metadata: {name: rbac-audit-ca-configmap}
spec:
  issuer: %[3]q
  audience: rbac-audit
  tls: {certificateAuthorityDataSource: {kind: ConfigMap, name: supervisor-ca, key: ca.crt}}
`, demo.ConciergeNamespace, supCA, d.Issuer)); err != nil {
		t.Fatal(err)
	}
	waitAudited(t, audit, "the concierge reports the JWTAuthenticator's status", is(conciergeSA, "update", "jwtauthenticators/status", "rbac-audit-ca-configmap"))

	// The proxy gets a serving certificate once it has an endpoint; a new endpoint
	// reissues it (an update of its Secret).
	ciPatch := func(spec string) {
		t.Helper()
		if out, err := d.Kubectl(ctx, admin, "patch", "credentialissuer", "selkie-concierge-config", "--type", "merge",
			"-p", `{"spec":{"impersonationProxy":`+spec+`}}`); err != nil {
			t.Fatalf("patch the CredentialIssuer: %v\n%s", err, out)
		}
	}
	port := strconv.Itoa(d.ProxyPort)
	ciPatch(`{"externalEndpoint":"127.0.0.1:` + port + `"}`)
	waitAudited(t, audit, "the concierge creates the proxy's serving Secret", is(conciergeSA, "create", "secrets", "selkie-concierge-impersonation-proxy-tls"))
	ciPatch(`{"externalEndpoint":"localhost:` + port + `"}`)
	waitAudited(t, audit, "the concierge reissues the proxy's serving certificate", is(conciergeSA, "update", "secrets", "selkie-concierge-impersonation-proxy-tls"))
	var proxyCA []byte
	eventually(t, 60*time.Second, "the CredentialIssuer advertises the proxy at localhost", func() (bool, error) {
		ci, err := con.ConfigV1alpha1().CredentialIssuers().Get(ctx, "selkie-concierge-config", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, st := range ci.Status.Strategies {
			if st.Frontend != nil && st.Frontend.ImpersonationProxyInfo != nil && st.Frontend.ImpersonationProxyInfo.Endpoint == "https://localhost:"+port {
				proxyCA, err = base64.StdEncoding.DecodeString(st.Frontend.ImpersonationProxyInfo.CertificateAuthorityData)
				return err == nil, err
			}
		}
		return false, fmt.Errorf("strategies %+v", ci.Status.Strategies)
	})

	// The kubeconfig from `selkie get kubeconfig`, pointed at the proxy: the exec plugin
	// logs in as before, and the proxy accepts the cluster-signed client certificate.
	cfg, err := clientcmd.LoadFromFile(d.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Clusters {
		c.Server, c.CertificateAuthorityData = "https://localhost:"+port, proxyCA
	}
	proxyKubeconfig := filepath.Join(d.Dir, "kubeconfig-proxy")
	if err := clientcmd.WriteToFile(*cfg, proxyKubeconfig); err != nil {
		t.Fatal(err)
	}
	// A ServiceAccount token through the proxy: reviewed by the concierge, passed through.
	tokenCfg := clientcmdapi.NewConfig()
	tokenCfg.Clusters["proxy"] = &clientcmdapi.Cluster{Server: "https://localhost:" + port, CertificateAuthorityData: proxyCA}
	tokenCfg.AuthInfos["default"] = &clientcmdapi.AuthInfo{Token: defaultServiceAccountToken(t, ctx, kubernetes.NewForConfigOrDie(adminConfig(t, admin)))}
	tokenCfg.Contexts["proxy"] = &clientcmdapi.Context{Cluster: "proxy", AuthInfo: "default"}
	tokenCfg.CurrentContext = "proxy"
	tokenKubeconfig := filepath.Join(d.Dir, "kubeconfig-proxy-token")
	if err := clientcmd.WriteToFile(*tokenCfg, tokenKubeconfig); err != nil {
		t.Fatal(err)
	}
	if out, err := d.Kubectl(ctx, tokenKubeconfig, "auth", "can-i", "--list"); err != nil {
		t.Errorf("a ServiceAccount token through the impersonation proxy: %v\n%s", err, out)
	}
	waitAudited(t, audit, "the concierge reviews the token", is(conciergeSA, "create", "tokenreviews", ""))

	pinny, _ := d.Env.User("pinny")
	creds := []string{"PINNIPED_USERNAME=" + pinny.Email, "PINNIPED_PASSWORD=" + pinny.Password}
	if out, err := d.Run(ctx, creds, d.Env.Kubectl, "--kubeconfig", proxyKubeconfig, "get", "ns"); err != nil || !strings.Contains(out, "kube-system") {
		t.Errorf("kubectl get ns through the impersonation proxy: %v\n%s", err, out)
	}
	// Nested impersonation: pinny may act as the default ServiceAccount, so the proxy
	// impersonates that account with the original user in a user extra.
	if err := d.Apply(ctx, admin, "impersonate-sa.yaml", fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: rbac-audit-impersonate-sa}
rules:
- {apiGroups: [""], resources: [serviceaccounts], verbs: [impersonate]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: rbac-audit-impersonate-sa}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: rbac-audit-impersonate-sa}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: %q}
`, demo.Group)); err != nil {
		t.Fatal(err)
	}
	if out, err := d.Run(ctx, creds, d.Env.Kubectl, "--kubeconfig", proxyKubeconfig, "--as", "system:serviceaccount:default:default",
		"auth", "can-i", "--list"); err != nil {
		t.Errorf("kubectl --as a ServiceAccount through the impersonation proxy: %v\n%s", err, out)
	}
	waitAudited(t, audit, "the proxy impersonates the ServiceAccount", func(r request) bool {
		return r.SA == proxySA && r.Impersonated != nil && r.Impersonated.Username == "system:serviceaccount:default:default"
	})

	// Renewal, without waiting months: a serving certificate Secret without its leaf
	// gets a new one (checked every minute), and a signer CA that does not load is
	// replaced (checked on every proxy sync, at least every 30 s) — the code paths that
	// renew them before they expire.
	kube := kubernetes.NewForConfigOrDie(adminConfig(t, admin))
	secrets := kube.CoreV1().Secrets(demo.ConciergeNamespace)
	if _, err := secrets.Patch(ctx, "selkie-concierge-api-tls", types.JSONPatchType,
		[]byte(`[{"op":"remove","path":"/data/tls.crt"}]`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.Patch(ctx, "selkie-concierge-impersonation-proxy-signer", types.MergePatchType,
		[]byte(`{"data":{"ca.crt":null,"ca.key":null}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAuditedFor(t, 90*time.Second, audit, "the concierge renews its serving certificate", is(conciergeSA, "update", "secrets", "selkie-concierge-api-tls"))
	waitAuditedFor(t, 60*time.Second, audit, "the concierge replaces the proxy's signer CA", is(conciergeSA, "update", "secrets", "selkie-concierge-impersonation-proxy-signer"))

	ciPatch(`{"mode":"disabled"}`)
	waitAudited(t, audit, "the concierge deletes the proxy's Service", is(conciergeSA, "delete", "services", "selkie-concierge-impersonation-proxy"))

	// A CredentialIssuer whose spec was not applied from --credential-issuer-spec (as
	// after an upgrade that changed it) gets that spec again from the status writer
	// (every 30 s).
	if out, err := d.Kubectl(ctx, admin, "annotate", "credentialissuer", "selkie-concierge-config", credentialissuer.SpecHashAnnotation+"-"); err != nil {
		t.Fatalf("remove the applied-spec annotation: %v\n%s", err, out)
	}
	waitAudited(t, audit, "the concierge applies its configured CredentialIssuer spec", is(conciergeSA, "update", "credentialissuers", "selkie-concierge-config"))

	// A missing CredentialIssuer is created again by the concierge's status writer
	// (every 30 s).
	if out, err := d.Kubectl(ctx, admin, "delete", "credentialissuer", "selkie-concierge-config"); err != nil {
		t.Fatalf("delete the CredentialIssuer: %v\n%s", err, out)
	}
	waitAudited(t, audit, "the concierge creates the CredentialIssuer", is(conciergeSA, "create", "credentialissuers", ""))
}
