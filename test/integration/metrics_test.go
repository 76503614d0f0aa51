//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	loginv1alpha1client "github.com/selkie-dev/selkie/generated/client/concierge/clientset/versioned/typed/login/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/certauthority"
	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
)

// metricsScraper scrapes a server's /metrics the way a Prometheus in the cluster does:
// over HTTPS, verifying the serving certificate, with a ServiceAccount token.
type metricsScraper struct {
	url    string
	client *http.Client
}

func newMetricsScraper(addr string, caPEM []byte, serverName string) *metricsScraper {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &metricsScraper{url: "https://" + addr + "/metrics", client: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}}}}
}

// get scrapes with token ("" for none) and returns the status and body.
func (m *metricsScraper) get(t testing.TB, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, m.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", m.url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// samples scrapes with token and returns every sample by its series
// (name{label="value",…}, labels sorted), histograms as their _count and _sum.
func (m *metricsScraper) samples(t testing.TB, token string) map[string]float64 {
	t.Helper()
	status, body := m.get(t, token)
	if status != http.StatusOK {
		t.Fatalf("scrape: %d %s", status, body)
	}
	return m.samplesOf(t, body)
}

// samplesOf parses a scrape's body (see samples).
func (m *metricsScraper) samplesOf(t testing.TB, body string) map[string]float64 {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse the scrape: %v", err)
	}
	out := map[string]float64{}
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				out[series(name, labels)] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[series(name, labels)] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				out[series(name+"_count", labels)] = float64(m.GetHistogram().GetSampleCount())
				out[series(name+"_sum", labels)] = m.GetHistogram().GetSampleSum()
			case m.GetUntyped() != nil:
				out[series(name, labels)] = m.GetUntyped().GetValue()
			}
		}
	}
	return out
}

// series names one series; labels are given as name, value pairs or a map.
func series(name string, labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+strconv.Quote(labels[k]))
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

func seriesOf(name string, kv ...string) string {
	labels := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		labels[kv[i]] = kv[i+1]
	}
	return series(name, labels)
}

// checkMoved fails for every series of want that did not move by exactly its value
// between before and after, and for every other series named in watched (metric names)
// that moved at all.
func checkMoved(t *testing.T, before, after map[string]float64, want map[string]float64, watched ...string) {
	t.Helper()
	for s, delta := range want {
		if got := after[s] - before[s]; got != delta {
			t.Errorf("%s moved by %v, want %v", s, got, delta)
		}
	}
	for s, v := range after {
		if _, ok := want[s]; ok {
			continue
		}
		name, _, _ := strings.Cut(s, "{")
		if slices.Contains(watched, name) && v != before[s] {
			t.Errorf("%s moved by %v, want no change", s, v-before[s])
		}
	}
}

// metricsScrapeToken creates a ServiceAccount in ns on the cluster of kubeconfig and
// returns its token; with role it is bound to that ClusterRole.
func metricsScrapeToken(t testing.TB, ctx context.Context, kubeconfig, ns, name, role string) string {
	t.Helper()
	admin := kubernetes.NewForConfigOrDie(adminConfig(t, kubeconfig))
	if _, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if role != "" {
		binding := fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: %[1]s-%[2]s
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: %[3]s}
subjects:
- {kind: ServiceAccount, name: %[2]s, namespace: %[1]s}
`, ns, name, role)
		if err := applyYAML(kubeconfig, binding); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = admin.RbacV1().ClusterRoleBindings().Delete(context.Background(), ns+"-"+name, metav1.DeleteOptions{})
		})
	}
	tr, err := admin.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: new(int64(3600))}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// shippedMetricsReader is the install's metrics-reader ClusterRole of component, as
// deploy/manifests ships it.
func shippedMetricsReader(t testing.TB, component string) string {
	t.Helper()
	data, err := os.ReadFile(testEnvRepoFileNoT("deploy/manifests/" + component + ".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if yaml.Unmarshal([]byte(doc), &obj) == nil && obj.Kind == "ClusterRole" && obj.Metadata.Name == "selkie-"+component+"-metrics-reader" {
			return doc
		}
	}
	t.Fatalf("deploy/manifests/%s.yaml has no ClusterRole selkie-%s-metrics-reader", component, component)
	return ""
}

// checkScrapeRefusals: no token is 401, a token without the role 403, and neither shows
// a metric.
func checkScrapeRefusals(t *testing.T, m *metricsScraper, unboundToken string) {
	t.Helper()
	for _, c := range []struct {
		name, token string
		want        int
	}{{"no token", "", http.StatusUnauthorized}, {"a token without get on /metrics", unboundToken, http.StatusForbidden},
		{"a made-up token", "not-a-token", http.StatusUnauthorized}} {
		status, body := m.get(t, c.token)
		if status != c.want || strings.Contains(body, "selkie_") {
			t.Errorf("scrape with %s: %d %.200q, want %d and no metrics", c.name, status, body, c.want)
		}
	}
}

// TestSupervisorMetrics: a real scrape of a supervisor, with the token of a ServiceAccount
// bound to the install's metrics-reader role, shows each counter moved by exactly the
// password login, refresh, exchange and failed login the test made; a scrape without
// that right is refused.
func TestSupervisorMetrics(t *testing.T) {
	ctx := testContext(t)
	kubeconfig := testEnv.Management().Kubeconfig
	// The metrics listener serves the API serving certificate from --api-cert-dir (the
	// aggregated API itself stays off here): one of a test CA.
	ca, err := certauthority.New("metrics-test-ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := ca.IssueServingCert([]string{"selkie-supervisor-api.selkie-supervisor.svc", "127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certDir := t.TempDir()
	for name, data := range map[string][]byte{"tls.crt": kp.CertPEM, "tls.key": kp.KeyPEM} {
		if err := os.WriteFile(filepath.Join(certDir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	metricsAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	s := startSupervisor(t, "--metrics-address", metricsAddr, "--api-cert-dir", certDir)
	ns := s.namespace
	s.dexDomain(t, true, shippedMetricsReader(t, "supervisor"))
	scraper := newMetricsScraper(metricsAddr, ca.CertPEM(), "selkie-supervisor-api.selkie-supervisor.svc")
	token := metricsScrapeToken(t, ctx, kubeconfig, ns, "prometheus", "selkie-supervisor-metrics-reader")
	checkScrapeRefusals(t, scraper, metricsScrapeToken(t, ctx, kubeconfig, ns, "nobody", ""))

	var before map[string]float64
	eventually(t, 30*time.Second, "the scrape shows the identity provider ready", func() (bool, error) {
		before = scraper.samples(t, token)
		ready := seriesOf("selkie_supervisor_identity_provider_ready", "kind", "OIDCIdentityProvider", "name", "dex")
		return before[ready] == 1, fmt.Errorf("%s = %v", ready, before[ready])
	})
	user := testEnv.Users[0]
	tokens := s.passwordLogin(t, "/fd1", "dex", user.Email, user.Password)
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens.RefreshToken}, "client_id": {oidcprovider.CLIClientID}}
	refreshed, status, body := s.tokenRequest(t, "/fd1", refresh)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %s", status, body)
	}
	if _, status, body := s.tokenRequest(t, "/fd1", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"client_id": {oidcprovider.CLIClientID}, "audience": {"cluster-a"}, "subject_token": {refreshed.AccessToken},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}, "requested_token_type": {"urn:ietf:params:oauth:token-type:jwt"}}); status != http.StatusOK {
		t.Fatalf("token exchange: %d %s", status, body)
	}
	if loc := s.authorize(t, "/fd1", url.Values{"pinniped_idp_name": {"dex"}}, user.Email, "wrong", newPKCE(t)); loc.Query().Get("error") != "access_denied" {
		t.Fatalf("the wrong password was not refused: %s", loc)
	}
	after := scraper.samples(t, token)

	idp := []string{"identity_provider", "dex", "identity_provider_type", "oidc"}
	with := func(kv ...string) []string { return append(slices.Clone(idp), kv...) }
	checkMoved(t, before, after, map[string]float64{
		seriesOf("selkie_supervisor_logins_total", with("federation_domain", "fd1", "flow", "cli_password", "outcome", "success")...):       1,
		seriesOf("selkie_supervisor_logins_total", with("federation_domain", "fd1", "flow", "cli_password", "outcome", "failure")...):       1,
		seriesOf("selkie_supervisor_refreshes_total", with("federation_domain", "fd1", "outcome", "success")...):                            1,
		seriesOf("selkie_supervisor_token_exchanges_total", "federation_domain", "fd1", "outcome", "success"):                               1,
		seriesOf("selkie_supervisor_upstream_request_duration_seconds_count", with("operation", "password_login", "outcome", "success")...): 1,
		seriesOf("selkie_supervisor_upstream_request_duration_seconds_count", with("operation", "password_login", "outcome", "failure")...): 1,
		seriesOf("selkie_supervisor_upstream_request_duration_seconds_count", with("operation", "refresh", "outcome", "success")...):        1,
	}, "selkie_supervisor_logins_total", "selkie_supervisor_refreshes_total", "selkie_supervisor_token_exchanges_total",
		"selkie_supervisor_upstream_request_duration_seconds_count", "selkie_supervisor_rate_limited_requests_total")
	for _, name := range []string{"controller_runtime_reconcile_total", "go_goroutines", "process_resident_memory_bytes"} {
		found := false
		for s := range after {
			found = found || strings.HasPrefix(s, name+"{")
		}
		if !found {
			t.Errorf("the scrape has no %s", name)
		}
	}
	for s := range after {
		if strings.Contains(s, user.Email) || strings.Contains(s, user.Password) {
			t.Errorf("a label carries the user's data: %s", s)
		}
	}
}

// conciergeMetrics: a real scrape of the concierge at metricsAddr (its API serving
// certificate, a ServiceAccount bound to the install's metrics-reader role) shows each
// counter moved by exactly one successful and one failed TokenCredentialRequest through
// the aggregated API and one list through the impersonation proxy (proxied, a client
// with a certificate the proxy issued); a scrape without that right is refused.
func conciergeMetrics(t *testing.T, ctx context.Context, kubeconfig, metricsAddr string, tcrs loginv1alpha1client.TokenCredentialRequestInterface,
	authenticatorName, idToken string, proxied kubernetes.Interface) {
	admin := kubernetes.NewForConfigOrDie(adminConfig(t, kubeconfig))
	servingCert, err := admin.CoreV1().Secrets(conciergeNamespace).Get(ctx, "selkie-concierge-api-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := applyYAML(kubeconfig, shippedMetricsReader(t, "concierge")); err != nil {
		t.Fatal(err)
	}
	scraper := newMetricsScraper(metricsAddr, servingCert.Data["ca-bundle.crt"], "selkie-concierge-api."+conciergeNamespace+".svc")
	token := metricsScrapeToken(t, ctx, kubeconfig, conciergeNamespace, "prometheus", "selkie-concierge-metrics-reader")
	checkScrapeRefusals(t, scraper, metricsScrapeToken(t, ctx, kubeconfig, conciergeNamespace, "nobody", ""))

	before := scraper.samples(t, token)
	if ready := seriesOf("selkie_concierge_authenticator_ready", "kind", "JWTAuthenticator", "name", authenticatorName); before[ready] != 1 {
		t.Errorf("%s = %v, want 1", ready, before[ready])
	}
	for tok, wantCred := range map[string]bool{idToken: true, "not-a-token": false} {
		resp, err := tcrs.Create(ctx, newTCR(tok, "JWTAuthenticator", authenticatorName), metav1.CreateOptions{})
		if err != nil || (resp.Status.Credential != nil) != wantCred {
			t.Fatalf("TokenCredentialRequest (credential wanted: %t): %v %+v", wantCred, err, resp)
		}
	}
	if _, err := proxied.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("list namespaces through the proxy: %v", err)
	}
	after := scraper.samples(t, token)
	tcr := "selkie_concierge_token_credential_requests_total"
	checkMoved(t, before, after, map[string]float64{
		seriesOf(tcr, "authenticator_kind", "JWTAuthenticator", "authenticator", authenticatorName, "outcome", "success", "reason", "none"):           1,
		seriesOf(tcr, "authenticator_kind", "JWTAuthenticator", "authenticator", authenticatorName, "outcome", "failure", "reason", "token_rejected"): 1,
		seriesOf("selkie_concierge_certificates_issued_total", "strategy", "ImpersonationProxy"):                                                      1,
		seriesOf("selkie_concierge_impersonation_proxy_requests_total", "verb", "list", "code", "200"):                                                1,
		seriesOf("selkie_concierge_impersonation_proxy_request_duration_seconds_count", "verb", "list"):                                               1,
	}, tcr, "selkie_concierge_certificates_issued_total", "selkie_concierge_impersonation_proxy_requests_total",
		"selkie_concierge_impersonation_proxy_request_duration_seconds_count")
}
