// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	loginv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/login/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/cli/httpretry"
	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
	"github.com/selkie-dev/selkie/test/env"
	"github.com/selkie-dev/selkie/test/env/demo"
)

// The fault suite runs a bounded load against the in-cluster supervisor and concierge
// (password logins, refreshes, token exchanges, TokenCredentialRequests and requests
// through the impersonation proxy, a few per second) while, one at a time, a supervisor
// replica is killed, the management cluster's kube-apiserver and etcd restart, Dex is
// down for 30 s, slapd is down, and a concierge replica is killed. A request may fail
// only if it needed what was down (a replica's failure: only requests in flight on it
// when it died); everything must work again within faultGrace of the fault's end.
// Afterwards every session refreshes without a new login, and once the load's sessions
// are revoked, the supervisor holds as many sessions as before the load.

// The load's operations and what each needs besides the network.
const (
	opLogin    = "password login (LDAP)"
	opRefreshD = "refresh (Dex session)"
	opRefreshL = "refresh (LDAP session)"
	opExchange = "token exchange"
	opTCR      = "TokenCredentialRequest"
	opProxy    = "request through the impersonation proxy"
)

var faultOps = []string{opLogin, opRefreshD, opRefreshL, opExchange, opTCR, opProxy}

// needs lists, per component a fault takes away, the operations that cannot work
// without it.
var needs = map[string][]string{
	"supervisor": {opLogin, opRefreshD, opRefreshL, opExchange},
	"mgmt-api":   {opLogin, opRefreshD, opRefreshL, opExchange}, // sessions are Secrets
	"dex":        {opRefreshD},                                  // the supervisor re-validates upstream
	"ldap":       {opLogin, opRefreshL},
	"concierge":  {opTCR, opProxy},
}

// faultGrace bounds how long after a fault ends (the component is back) requests that
// need it may still fail.
const faultGrace = 30 * time.Second

type opResult struct {
	op         string
	start, end time.Time
	err        error
}

// faultLoad is the load's clients, sessions and results.
type faultLoad struct {
	d                   *demo.Demo
	issuer              string
	supervisor, api     *http.Client
	apiURL, proxyURL    string
	proxyCA             *x509.CertPool
	ldapUsers, dexUsers []env.User

	mu        sync.Mutex
	results   []opResult
	sessions  []*loadSession // every session the load holds
	dex       *loadSession   // the session exchanges use (a Dex user, in the namespace readers' group)
	idToken   string         // the newest cluster-audience ID token
	proxyCert *tls.Certificate
	proxyAt   time.Time
	next      int
}

type loadSession struct {
	idp                   string
	mu                    sync.Mutex
	refreshToken, access  string
	refreshed, refreshErr int
}

func newFaultLoad(t *testing.T, d *demo.Demo, proxyKubeconfig string) *faultLoad {
	t.Helper()
	caPEM, err := os.ReadFile(d.SupervisorCAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	l := &faultLoad{d: d, issuer: d.Issuer, supervisor: &http.Client{Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}}
	cfg := rest.AnonymousClientConfig(adminConfig(t, d.Workload.AdminKubeconfig))
	api, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	api.Timeout = 30 * time.Second
	l.api, l.apiURL = api, strings.TrimSuffix(cfg.Host, "/")
	// The proxy's address and CA, from the kubeconfig `selkie get kubeconfig` wrote for it.
	raw, err := clientcmd.LoadFromFile(proxyKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range raw.Clusters {
		l.proxyURL = c.Server
		l.proxyCA = x509.NewCertPool()
		l.proxyCA.AppendCertsFromPEM(c.CertificateAuthorityData)
	}
	for _, name := range []string{"pinny", "wally"} {
		u, _ := d.Env.User(name)
		l.dexUsers = append(l.dexUsers, u)
		l.ldapUsers = append(l.ldapUsers, u)
	}
	return l
}

// do sends a request as the CLI would: retried when it never reached a server or the
// answer says "not now" (502, 503, 504, 429).
func do(ctx context.Context, c *http.Client, method, u string, body []byte, header http.Header) (int, []byte, http.Header, error) {
	resp, err := httpretry.Do(ctx, c, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if header != nil {
			req.Header = header.Clone()
		}
		return req, nil
	}, httpretry.Options{})
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, resp.Header, err
}

type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

func (l *faultLoad) token(ctx context.Context, form url.Values) (*tokenAnswer, error) {
	status, body, _, err := do(ctx, l.supervisor, http.MethodPost, l.issuer+"/oauth2/token", []byte(form.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("token endpoint: %d %s", status, firstLine(body))
	}
	var a tokenAnswer
	if err := json.Unmarshal(body, &a); err != nil || a.AccessToken == "" {
		return nil, fmt.Errorf("token endpoint: %s", firstLine(body))
	}
	return &a, nil
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// freshPKCE is newPKCE for goroutines (crypto/rand does not fail).
func freshPKCE() pkce {
	v := rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(v))
	return pkce{verifier: v, challenge: base64.RawURLEncoding.EncodeToString(sum[:])}
}

// login logs a user in by password at idp (the CLI's cli_password flow) and returns the
// session.
func (l *faultLoad) login(ctx context.Context, idp, username, password string) (*loadSession, error) {
	p := freshPKCE()
	q := url.Values{"client_id": {oidcprovider.CLIClientID}, "redirect_uri": {cliRedirect}, "response_type": {"code"},
		"scope": {"openid offline_access pinniped:request-audience username groups"}, "state": {"state-1234567"},
		"nonce": {"nonce-1234567"}, "code_challenge": {p.challenge}, "code_challenge_method": {"S256"},
		"pinniped_idp_name": {idp}}
	status, body, header, err := do(ctx, l.supervisor, http.MethodGet, l.issuer+"/oauth2/authorize?"+q.Encode(), nil,
		http.Header{"Pinniped-Username": {username}, "Pinniped-Password": {password}})
	if err != nil {
		return nil, err
	}
	loc, _ := url.Parse(header.Get("Location"))
	if status != http.StatusFound || loc == nil || loc.Query().Get("code") == "" {
		return nil, fmt.Errorf("authorize: %d %s %s", status, header.Get("Location"), firstLine(body))
	}
	a, err := l.token(ctx, url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {cliRedirect}, "code_verifier": {p.verifier}, "client_id": {oidcprovider.CLIClientID}})
	if err != nil {
		return nil, err
	}
	return &loadSession{idp: idp, refreshToken: a.RefreshToken, access: a.AccessToken}, nil
}

// refresh refreshes s; a failed refresh keeps the refresh token, as the CLI keeps its
// session, and the next attempt sends it again.
func (l *faultLoad) refresh(ctx context.Context, s *loadSession) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := l.token(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.refreshToken},
		"client_id": {oidcprovider.CLIClientID}})
	if err != nil {
		s.refreshErr++
		return err
	}
	s.refreshToken, s.access = a.RefreshToken, a.AccessToken
	s.refreshed++
	return nil
}

func (l *faultLoad) exchange(ctx context.Context) error {
	l.dex.mu.Lock()
	access := l.dex.access
	l.dex.mu.Unlock()
	a, err := l.token(ctx, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"client_id": {oidcprovider.CLIClientID}, "audience": {demo.Audience}, "subject_token": {access},
		"subject_token_type":   {"urn:ietf:params:oauth:token-type:access_token"},
		"requested_token_type": {"urn:ietf:params:oauth:token-type:jwt"}})
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.idToken = a.AccessToken
	l.mu.Unlock()
	return nil
}

// tcr sends a TokenCredentialRequest with the newest cluster-audience token to base (the
// workload API server or the impersonation proxy) and returns the credential.
func (l *faultLoad) tcr(ctx context.Context, c *http.Client, base string) (*loginv1alpha1.ClusterCredential, error) {
	l.mu.Lock()
	token := l.idToken
	l.mu.Unlock()
	body, err := json.Marshal(tcrBody(token, "demo"))
	if err != nil {
		return nil, err
	}
	status, answer, _, err := do(ctx, c, http.MethodPost, base+"/apis/"+loginv1alpha1.SchemeGroupVersion.String()+"/tokencredentialrequests",
		body, http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return nil, err
	}
	var got loginv1alpha1.TokenCredentialRequest
	if status != http.StatusCreated && status != http.StatusOK || json.Unmarshal(answer, &got) != nil || got.Status.Credential == nil {
		return nil, fmt.Errorf("TokenCredentialRequest: %d %s", status, firstLine(answer))
	}
	return got.Status.Credential, nil
}

// proxyGet reads the concierge's namespace through the impersonation proxy with a client
// certificate from the proxy, renewed (by a TokenCredentialRequest at the proxy) every two minutes.
func (l *faultLoad) proxyGet(ctx context.Context) error {
	l.mu.Lock()
	cert, at := l.proxyCert, l.proxyAt
	l.mu.Unlock()
	anonymous := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: l.proxyCA, MinVersion: tls.VersionTLS12}}}
	if cert == nil || time.Since(at) > 2*time.Minute {
		cred, err := l.tcr(ctx, anonymous, l.proxyURL)
		if err != nil {
			return fmt.Errorf("certificate from the proxy: %w", err)
		}
		c, err := tls.X509KeyPair([]byte(cred.ClientCertificateData), []byte(cred.ClientKeyData))
		if err != nil {
			return err
		}
		cert = &c
		l.mu.Lock()
		l.proxyCert, l.proxyAt = cert, time.Now()
		l.mu.Unlock()
	}
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: l.proxyCA, Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}}}
	defer c.CloseIdleConnections()
	status, body, _, err := do(ctx, c, http.MethodGet, l.proxyURL+"/api/v1/namespaces/"+demo.ConciergeNamespace, nil, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("GET namespace through the proxy: %d %s", status, firstLine(body))
	}
	return nil
}

// record runs one operation and keeps its result.
func (l *faultLoad) record(ctx context.Context, op string, f func(context.Context) error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	start := time.Now()
	err := f(cctx)
	l.mu.Lock()
	l.results = append(l.results, opResult{op: op, start: start, end: time.Now(), err: err})
	l.mu.Unlock()
}

// every runs op every interval until stop is closed.
func every(wg *sync.WaitGroup, stop <-chan struct{}, interval time.Duration, op func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				op()
			}
		}
	}()
}

// run starts the load; closing stop ends it, and the returned WaitGroup is done once
// every worker has returned.
func (l *faultLoad) run(ctx context.Context, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	every(&wg, stop, 2*time.Second, func() {
		l.mu.Lock()
		u := l.ldapUsers[l.next%len(l.ldapUsers)]
		l.next++
		l.mu.Unlock()
		l.record(ctx, opLogin, func(ctx context.Context) error {
			s, err := l.login(ctx, "ldap", u.Username, u.Password)
			if err == nil {
				l.mu.Lock()
				l.sessions = append(l.sessions, s)
				l.mu.Unlock()
			}
			return err
		})
	})
	every(&wg, stop, time.Second, func() { l.record(ctx, opRefreshD, func(ctx context.Context) error { return l.refresh(ctx, l.dex) }) })
	var n int
	every(&wg, stop, 500*time.Millisecond, func() {
		l.mu.Lock()
		var ldap []*loadSession
		for _, s := range l.sessions {
			if s.idp == "ldap" {
				ldap = append(ldap, s)
			}
		}
		l.mu.Unlock()
		if len(ldap) == 0 {
			return
		}
		n++
		l.record(ctx, opRefreshL, func(ctx context.Context) error { return l.refresh(ctx, ldap[n%len(ldap)]) })
	})
	every(&wg, stop, 500*time.Millisecond, func() { l.record(ctx, opExchange, l.exchange) })
	every(&wg, stop, 500*time.Millisecond, func() {
		l.record(ctx, opTCR, func(ctx context.Context) error {
			_, err := l.tcr(ctx, l.api, l.apiURL)
			return err
		})
	})
	every(&wg, stop, 500*time.Millisecond, func() { l.record(ctx, opProxy, l.proxyGet) })
	return &wg
}

// waitRecovered returns once every operation has succeeded at least twice in requests
// that began after since, and the last failure of any was at least calm ago; or after
// limit.
func (l *faultLoad) waitRecovered(since time.Time, calm, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		l.mu.Lock()
		ok := map[string]int{}
		var lastFailure time.Time
		for _, r := range l.results {
			switch {
			case r.err != nil:
				lastFailure = later(lastFailure, r.end)
			case r.start.After(since):
				ok[r.op]++
			}
		}
		l.mu.Unlock()
		recovered := time.Since(later(lastFailure, since)) >= calm
		for _, op := range faultOps {
			recovered = recovered && ok[op] >= 2
		}
		if recovered {
			return
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// fault is one injected fault: what it takes away and how long that lasted.
type fault struct {
	name, component string
	// kill: a replica was killed at start, and taken out of its Services at back; only
	// requests overlapping that interval had to fail. Otherwise the component was away
	// from start to back, and requests that needed it may fail until faultGrace later.
	kill        bool
	start, back time.Time
}

// faultReport is one fault's line in the report, and its unexpected failures.
type faultReport struct {
	attempted, failed, hadTo int
	recovery                 time.Duration
	unexpected               []opResult
}

// judge sorts the results that overlap [f.start, until) into those that had to fail
// and the rest. next, when not nil, is the fault that began at until: a request still
// in flight then may fail if it needed next's component.
func judge(results []opResult, f fault, until time.Time, next *fault) faultReport {
	var r faultReport
	for _, res := range results {
		if res.end.Before(f.start) || !res.start.Before(until) {
			continue
		}
		r.attempted++
		if res.err == nil {
			continue
		}
		r.failed++
		r.recovery = max(r.recovery, res.end.Sub(f.start))
		needed := slices.Contains(needs[f.component], res.op)
		switch {
		case needed && f.kill && res.start.Before(f.back) && res.end.After(f.start):
			r.hadTo++
		case needed && !f.kill && res.start.Before(f.back.Add(faultGrace)):
			r.hadTo++
		case next != nil && slices.Contains(needs[next.component], res.op) && res.end.After(next.start):
			r.hadTo++
		default:
			r.unexpected = append(r.unexpected, res)
		}
	}
	return r
}

// killReplica kills the running container of one of the namespace's pods (SIGKILL, as
// an out-of-memory kill or a crash would) on its node and returns when it did so and
// when no EndpointSlice of the namespace listed the pod as ready any more (until then
// the Services may still send requests to it). It waits until every replica is ready
// again.
func killReplica(t *testing.T, ctx context.Context, client kubernetes.Interface, nodes []*env.Node, ns string) (killed, removed time.Time) {
	t.Helper()
	pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + ns})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("pods of %s: %v", ns, err)
	}
	pod := pods.Items[0]
	if len(pod.Status.ContainerStatuses) == 0 {
		t.Fatalf("pod %s/%s has no container status", ns, pod.Name)
	}
	restarts := pod.Status.ContainerStatuses[0].RestartCount
	_, id, ok := strings.Cut(pod.Status.ContainerStatuses[0].ContainerID, "://")
	i := slices.IndexFunc(nodes, func(n *env.Node) bool { return n.Name == pod.Spec.NodeName })
	if !ok || i < 0 {
		t.Fatalf("pod %s/%s: container %q on node %q, not one of the environment's", ns, pod.Name, pod.Status.ContainerStatuses[0].ContainerID, pod.Spec.NodeName)
	}
	killed = time.Now()
	if out, err := nodes[i].Crictl(ctx, "stop", "--timeout", "0", id); err != nil {
		t.Fatalf("crictl stop %s: %v\n%s", id, err, out)
	}
	eventually(t, time.Minute, "no EndpointSlice of "+ns+" lists pod "+pod.Name+" as ready", func() (bool, error) {
		list, err := client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, s := range list.Items {
			for _, e := range s.Endpoints {
				if e.TargetRef != nil && e.TargetRef.Name == pod.Name && (e.Conditions.Ready == nil || *e.Conditions.Ready) {
					return false, nil
				}
			}
		}
		removed = time.Now()
		return true, nil
	})
	eventually(t, 3*time.Minute, "pod "+pod.Name+" restarted and every replica of "+ns+" ready", func() (bool, error) {
		p, err := client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].RestartCount == restarts {
			return false, nil
		}
		dep, err := client.AppsV1().Deployments(ns).Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return dep.Status.ReadyReplicas == *dep.Spec.Replicas && p.Status.ContainerStatuses[0].Ready, nil
	})
	return killed, removed
}

// serverProblems returns the WARN and ERROR log lines of every pod of ns, from its
// current container and, after a restart, from the previous one.
func serverProblems(ctx context.Context, d *demo.Demo, kubeconfig, ns string) string {
	run := func(args ...string) string {
		out, _ := d.Kubectl(ctx, kubeconfig, append([]string{"-n", ns}, args...)...) // no previous container: nothing
		return out
	}
	var b strings.Builder
	for _, pod := range strings.Fields(run("get", "pods", "-l", "app="+ns, "-o", "name")) {
		for _, previous := range []bool{false, true} {
			args := []string{"logs", pod, "--all-containers"}
			if previous {
				args = append(args, "--previous")
			}
			for _, line := range strings.Split(run(args...), "\n") {
				if strings.Contains(line, `"level":"ERROR"`) || strings.Contains(line, `"level":"WARN"`) {
					fmt.Fprintf(&b, "%s (previous container: %t): %s\n", pod, previous, line)
				}
			}
		}
	}
	return b.String()
}

// sessionSecrets lists the supervisor's session Secrets.
func sessionSecrets(t *testing.T, ctx context.Context, client kubernetes.Interface) []corev1.Secret {
	t.Helper()
	list, err := client.CoreV1().Secrets(demo.SupervisorNamespace).List(ctx, metav1.ListOptions{LabelSelector: "storage.selkie.dev/type=session"})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// faults runs the fault suite against the in-cluster demo; proxyKubeconfig is a
// kubeconfig for the impersonation proxy (its address and CA).
func faults(t *testing.T, ctx context.Context, d *demo.Demo, proxyKubeconfig string) {
	mgmt := kubernetes.NewForConfigOrDie(adminConfig(t, d.Mgmt.AdminKubeconfig))
	workload := kubernetes.NewForConfigOrDie(adminConfig(t, d.Workload.AdminKubeconfig))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the servers' warnings and errors (killed containers included):\n%s\n%s",
				serverProblems(ctx, d, d.Mgmt.AdminKubeconfig, demo.SupervisorNamespace),
				serverProblems(ctx, d, d.Workload.AdminKubeconfig, demo.ConciergeNamespace))
		}
	})
	l := newFaultLoad(t, d, proxyKubeconfig)
	var baseline []string
	for _, s := range sessionSecrets(t, ctx, mgmt) {
		baseline = append(baseline, s.Name)
	}

	// The sessions the refreshes and exchanges start from: a Dex user's (in the group
	// that may read namespaces) and an LDAP user's.
	pinny := l.dexUsers[0]
	var err error
	if l.dex, err = l.login(ctx, "dex", pinny.Email, pinny.Password); err != nil {
		t.Fatalf("log in through Dex: %v", err)
	}
	first, err := l.login(ctx, "ldap", pinny.Username, pinny.Password)
	if err != nil {
		t.Fatalf("log in through LDAP: %v", err)
	}
	l.sessions = append(l.sessions, l.dex, first)
	if err := l.exchange(ctx); err != nil {
		t.Fatalf("token exchange: %v", err)
	}

	stop := make(chan struct{})
	wg := l.run(ctx, stop)
	stopped := false
	end := func() {
		if !stopped {
			stopped = true
			close(stop)
			wg.Wait()
		}
	}
	defer end()

	// Each step injects its fault and returns when it began and ended (the component is
	// back, or for a killed replica, out of its Services).
	restart := func(f func() error) (time.Time, time.Time) {
		start := time.Now()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		return start, time.Now()
	}
	steps := []struct {
		fault
		inject func() (time.Time, time.Time)
	}{
		{fault{name: "a supervisor replica killed", component: "supervisor", kill: true}, func() (time.Time, time.Time) {
			return killReplica(t, ctx, mgmt, d.Env.Nodes[0], demo.SupervisorNamespace)
		}},
		{fault{name: "the management kube-apiserver restarts", component: "mgmt-api"}, func() (time.Time, time.Time) {
			return restart(func() error { return d.Mgmt.Restart(ctx, "kube-apiserver", 2*time.Second) })
		}},
		{fault{name: "the management etcd restarts", component: "mgmt-api"}, func() (time.Time, time.Time) {
			return restart(func() error { return d.Mgmt.Restart(ctx, "etcd", 2*time.Second) })
		}},
		{fault{name: "Dex down for 30 s", component: "dex"}, func() (time.Time, time.Time) {
			return restart(func() error { return d.Env.Dex.RestartAfter(ctx, 30*time.Second) })
		}},
		{fault{name: "slapd down for 15 s", component: "ldap"}, func() (time.Time, time.Time) {
			return restart(func() error { return d.Env.LDAP.Restart(ctx, 15*time.Second) })
		}},
		{fault{name: "a concierge replica killed", component: "concierge", kill: true}, func() (time.Time, time.Time) {
			return killReplica(t, ctx, workload, d.Env.Nodes[1], demo.ConciergeNamespace)
		}},
	}
	// The load without faults first: the floor each fault's figures compare with.
	time.Sleep(10 * time.Second)
	floorStart := time.Now().Add(-10 * time.Second)
	var report []string
	done := make([]fault, 0, len(steps))
	for _, s := range steps {
		f := s.fault
		// Each fault comes at a random moment of the load's cycle: the load's operations
		// start on its ticks, and a fault injected in step with them would land inside the
		// same requests every run instead of where chance puts it.
		time.Sleep(mathrand.N(time.Second))
		f.start, f.back = s.inject()
		// The next fault waits until every operation has worked again for a while (at
		// most the grace period): a failure after that counts against the next fault's
		// window, where it is unexpected unless it needs that fault's component.
		l.waitRecovered(f.back, 5*time.Second, faultGrace+5*time.Second)
		done = append(done, f)
	}
	lastEnd := time.Now()
	end()

	l.mu.Lock()
	results := slices.Clone(l.results)
	l.mu.Unlock()
	floor := judge(results, fault{start: floorStart, back: floorStart}, done[0].start, &done[0])
	report = append(report, fmt.Sprintf("%-40s %5d attempted, %3d failed", "no fault (10 s)", floor.attempted, floor.failed))
	for _, u := range floor.unexpected {
		t.Errorf("without a fault, %s failed after %s: %v", u.op, u.end.Sub(u.start).Round(time.Millisecond), u.err)
	}
	for i, f := range done {
		until, next := lastEnd, (*fault)(nil)
		if i+1 < len(done) {
			until, next = done[i+1].start, &done[i+1]
		}
		r := judge(results, f, until, next)
		recovery := "no request failed"
		if r.failed > 0 {
			recovery = fmt.Sprintf("last failure %s after the fault began", r.recovery.Round(100*time.Millisecond))
		}
		report = append(report, fmt.Sprintf("%-40s %5d attempted, %3d failed (%d had to); away %s; %s; failed/attempted by operation: %s",
			f.name, r.attempted, r.failed, r.hadTo, f.back.Sub(f.start).Round(100*time.Millisecond), recovery, byOp(results, f.start, until)))
		for _, u := range r.unexpected {
			t.Errorf("during %q, %s failed though it did not need what was down (started %s after the fault began, took %s): %v",
				f.name, u.op, u.start.Sub(f.start).Round(time.Millisecond), u.end.Sub(u.start).Round(time.Millisecond), u.err)
		}
	}
	t.Logf("fault suite (load: LDAP login every 2 s, refreshes 3/s, exchanges, TokenCredentialRequests and proxied GETs 2/s each):\n%s",
		strings.Join(report, "\n"))

	// Every session refreshes without a new login.
	refreshed := 0
	for _, s := range l.sessions {
		if err := l.refresh(ctx, s); err != nil {
			t.Errorf("after the faults, a %s session (refreshed %d times, %d failed refreshes) does not refresh: %v", s.idp, s.refreshed, s.refreshErr, err)
			continue
		}
		refreshed++
	}
	t.Logf("after the faults %d of %d sessions refreshed", refreshed, len(l.sessions))

	// Revoked, the load's sessions are gone, and nothing else the load made is left.
	for _, s := range l.sessions {
		status, body, _, err := do(ctx, l.supervisor, http.MethodPost, l.issuer+"/oauth2/revoke",
			[]byte(url.Values{"token": {s.refreshToken}, "client_id": {oidcprovider.CLIClientID}}.Encode()),
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
		if err != nil || status != http.StatusOK {
			t.Errorf("revoke: %d %s %v", status, firstLine(body), err)
		}
	}
	// Sessions from before may have ended meanwhile. The only new ones left may be those
	// of logins a fault cut short between storing the authorization code and redeeming
	// it (the client saw the login fail): they end with the code, within its lifetime.
	failedLogins := 0
	for _, res := range results {
		if res.op == opLogin && res.err != nil {
			failedLogins++
		}
	}
	var left []corev1.Secret
	eventually(t, time.Minute, fmt.Sprintf("no sessions but the %d from before the load and unredeemed codes of the %d failed logins",
		len(baseline), failedLogins), func() (bool, error) {
		left = slices.DeleteFunc(sessionSecrets(t, ctx, mgmt), func(s corev1.Secret) bool { return slices.Contains(baseline, s.Name) })
		if len(left) > failedLogins {
			return false, nil
		}
		for _, s := range left {
			expires, err := time.Parse(time.RFC3339Nano, s.Annotations["storage.selkie.dev/expires"])
			if err != nil || expires.After(time.Now().Add(codeLifetime)) {
				return false, fmt.Errorf("session %s expires %q, later than an unredeemed code would", s.Name, s.Annotations["storage.selkie.dev/expires"])
			}
		}
		return true, nil
	})
	t.Logf("after revoking the load's %d sessions, sessions from before the load remain and %d unredeemed codes of the %d failed logins",
		len(l.sessions), len(left), failedLogins)
}

// codeLifetime is the supervisor's authorization code lifetime.
const codeLifetime = 10 * time.Minute

// byOp counts, per operation, the failed and attempted requests overlapping [from, until).
func byOp(results []opResult, from, until time.Time) string {
	var parts []string
	for _, op := range faultOps {
		var n, failed int
		for _, r := range results {
			if r.op != op || r.end.Before(from) || !r.start.Before(until) {
				continue
			}
			n++
			if r.err != nil {
				failed++
			}
		}
		parts = append(parts, fmt.Sprintf("%s %d/%d", op, failed, n))
	}
	return strings.Join(parts, ", ")
}
