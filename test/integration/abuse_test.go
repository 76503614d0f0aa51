//go:build integration

// SPDX-License-Identifier: Apache-2.0

package integration

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
)

// The abuse suite attacks a supervisor, bounded and on loopback only, while a legitimate
// user logs in. Each attack checks that the user still succeeds, that the attack stored
// nothing unbounded, and logs the user's login latency under attack beside the latency
// without it ("abuse: ..." lines). Attackers connect from loopback addresses of their own
// (all of 127.0.0.0/8 is loopback), so that per-address limits tell them apart from the
// user as they would tell real clients apart.

// attackerClient is s.client with connections from the loopback address ip.
func (s *supervisor) attackerClient(ip string) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.caPEM)
	dialer := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			DialContext: dialer.DialContext, MaxIdleConnsPerHost: 16}}
}

// latencies runs login n times and returns the durations, sorted.
func latencies(t *testing.T, n int, login func()) []time.Duration {
	t.Helper()
	out := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		login()
		out = append(out, time.Since(start))
	}
	slices.Sort(out)
	return out
}

func p50(d []time.Duration) time.Duration { return d[len(d)/2].Round(10 * time.Microsecond) }

// attack runs fire from workers goroutines, maxEach times each, and counts the answers by
// status.
type attack struct {
	mu     sync.Mutex
	status map[int]int
	errs   int
	wg     sync.WaitGroup
	start  time.Time
}

// allowed is how many failures a failure limit of burst, refilled at perMinute, lets
// through from each of keys during the attack so far, when concurrent requests per key
// are in flight: each of them may pass the check for the same token before the first
// failure is counted (ratelimit.Limiter.Check).
func (a *attack) allowed(keys, concurrent, burst int, perMinute float64) int {
	refills := int(time.Since(a.start).Seconds()*perMinute/60) + 1
	return keys * (burst + concurrent*refills)
}

func startAttack(workers, maxEach int, fire func(worker int) (int, error)) *attack {
	a := &attack{status: map[int]int{}, start: time.Now()}
	for w := range workers {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			for range maxEach {
				code, err := fire(w)
				a.mu.Lock()
				if err != nil {
					a.errs++
				} else {
					a.status[code]++
				}
				a.mu.Unlock()
			}
		}()
	}
	return a
}

// during runs login over and over (at least least times) until every worker of the attack
// has fired all its requests, and returns the logins' durations, sorted, and the counts.
func (a *attack) during(t *testing.T, least int, login func()) ([]time.Duration, map[int]int, int) {
	t.Helper()
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	var out []time.Duration
	for {
		select {
		case <-done:
			if len(out) >= least {
				slices.Sort(out)
				return out, a.status, a.errs
			}
		default:
		}
		start := time.Now()
		login()
		out = append(out, time.Since(start))
		time.Sleep(legitimatePause) // a user, not a second attacker
	}
}

// legitimatePause separates a legitimate user's requests during an attack.
const legitimatePause = 50 * time.Millisecond

// statusOf sends req with c and returns the answer's status, the body drained.
func statusOf(c *http.Client, req *http.Request, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (s *supervisor) sessionSecrets(t *testing.T) int {
	t.Helper()
	list, err := adminClient(t).CoreV1().Secrets(s.namespace).List(testContext(t), metav1.ListOptions{LabelSelector: "storage.selkie.dev/type=session"})
	if err != nil {
		t.Fatal(err)
	}
	return len(list.Items)
}

// TestAbuseSupervisor floods and guesses at a supervisor with an LDAP identity provider.
func TestAbuseSupervisor(t *testing.T) {
	const maxPending = 100
	s := startSupervisor(t, fmt.Sprintf("--max-pending-device-logins=%d", maxPending))
	ns := s.namespace
	l := testEnv.LDAP
	caPEM, err := os.ReadFile(testEnv.CABundle)
	if err != nil {
		t.Fatal(err)
	}
	manifest := basicAuthSecretYAML(ns, "ldap-bind", l.BindDN, l.BindPassword) + "---\n" +
		ldapFederationDomainYAML(ns, "fd", s.issuer("/fd"), "ldap") + "---\n" +
		ldapIdP{name: "ldap", host: l.LDAPSAddr, bindSecret: "ldap-bind"}.yaml(ns, caPEM)
	if err := applyYAML(testEnv.Management().Kubeconfig, manifest); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "FederationDomain /fd lists the LDAP IdP", func() (bool, error) {
		var doc oidcprovider.IDPDiscovery
		err := s.getJSON(s.issuer("/fd")+oidcprovider.PathIDPs, &doc)
		return err == nil && len(doc.IdentityProviders) == 1, fmt.Errorf("%v %+v", err, doc)
	})
	pinny, _ := testEnv.User("pinny")
	wally, _ := testEnv.User("wally")
	login := func() { s.passwordLogin(t, "/fd", "ldap", pinny.Username, pinny.Password) }
	login() // warm: the IdP's connections, the session store
	baseline := latencies(t, 7, login)
	t.Logf("abuse: baseline: legitimate LDAP password login p50 %s, max %s", p50(baseline), baseline[len(baseline)-1].Round(time.Millisecond))

	t.Run("device authorization flood", func(t *testing.T) {
		before := s.sessionSecrets(t)
		form := url.Values{"client_id": {oidcprovider.CLIClientID}, "scope": {"openid offline_access"}, "pinniped_idp_name": {"ldap"}}.Encode()
		clients := make([]*http.Client, 20)
		for i := range clients {
			clients[i] = s.attackerClient(fmt.Sprintf("127.0.10.%d", i+1))
		}
		a := startAttack(len(clients), 100, func(w int) (int, error) {
			req, err := http.NewRequest(http.MethodPost, s.issuer("/fd")+oidcprovider.PathDeviceAuthorization, strings.NewReader(form))
			if err == nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			return statusOf(clients[w], req, err)
		})
		under, counts, errs := a.during(t, 7, login)
		stored := s.sessionSecrets(t) - before - len(under) // less the logins' own sessions
		t.Logf("abuse: device authorization flood (20 addresses, %d requests: %v, %d errors): legitimate login p50 %s (baseline %s); %d device sessions stored (bound %d)",
			total(counts)+errs, counts, errs, p50(under), p50(baseline), stored, maxPending)
		if stored > maxPending || counts[http.StatusTooManyRequests] == 0 {
			t.Errorf("the flood stored %d sessions (bound %d) and met %d refusals", stored, maxPending, counts[http.StatusTooManyRequests])
		}
	})

	t.Run("password guessing", func(t *testing.T) {
		guesser := s.attackerClient("127.0.11.1")
		var tries atomic.Int32
		a := startAttack(4, 50, func(int) (int, error) {
			n := tries.Add(1)
			q := url.Values{"client_id": {oidcprovider.CLIClientID}, "redirect_uri": {cliRedirect}, "response_type": {"code"},
				"scope": {"openid"}, "state": {"state-1234567"}, "nonce": {"nonce-1234567"}, "code_challenge": {newPKCE(t).challenge},
				"code_challenge_method": {"S256"}, "pinniped_idp_name": {"ldap"}}
			req, err := http.NewRequest(http.MethodGet, s.issuer("/fd")+"/oauth2/authorize?"+q.Encode(), nil)
			if err == nil {
				req.Header.Set("Pinniped-Username", wally.Username)
				req.Header.Set("Pinniped-Password", fmt.Sprintf("guess-%d", n))
			}
			return statusOf(guesser, req, err)
		})
		under, counts, errs := a.during(t, 7, login)
		t.Logf("abuse: password guessing (%d guesses at one user: %v, %d errors): legitimate login p50 %s (baseline %s)",
			total(counts)+errs, counts, errs, p50(under), p50(baseline))
		// Five guesses reach the directory (a few more when concurrent guesses pass the
		// check together); every other one is refused before it.
		if counts[http.StatusFound] > a.allowed(1, 4, 5, 1) || counts[http.StatusFound]+counts[http.StatusTooManyRequests] != total(counts) {
			t.Errorf("guesses answered %v: more than the burst reached the directory", counts)
		}
	})

	t.Run("slow bodies", func(t *testing.T) {
		const conns = 100
		var open []net.Conn
		defer func() {
			for _, c := range open {
				c.Close()
			}
		}()
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(s.caPEM)
		for i := range conns {
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(fmt.Sprintf("127.0.12.%d", i%50+1))}, Timeout: 10 * time.Second}
			c, err := tls.DialWithDialer(d, "tcp", s.addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}})
			if err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
			// Headers promise a body that never comes whole.
			fmt.Fprintf(c, "POST /fd/oauth2/token HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\ngrant_type=", s.addr)
			open = append(open, c)
		}
		under := latencies(t, 7, login)
		t.Logf("abuse: slow bodies (%d connections): legitimate login p50 %s (baseline %s)", conns, p50(under), p50(baseline))
		// The server's read timeout closes every one of them.
		deadline := time.Now().Add(45 * time.Second)
		closed := 0
		for _, c := range open {
			_ = c.SetReadDeadline(deadline)
			if _, err := io.ReadAll(c); err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
				closed++
			}
		}
		t.Logf("abuse: slow bodies: %d of %d connections closed by the supervisor within 45 s", closed, conns)
		if closed != conns {
			t.Errorf("%d of %d slow connections still open after 45 s", conns-closed, conns)
		}
	})
}

func total(counts map[int]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

// TestAbuseClientSecrets hammers the token endpoint with wrong secrets for a real
// OIDCClient (bcrypt hashes) while the client authenticates with its right secret.
func TestAbuseClientSecrets(t *testing.T) {
	s, api := startOIDCClientSupervisor(t)
	secret := kubectlSecretRequest(t, s.namespace)
	waitOIDCClient(t, api, s.namespace, "Ready", 1)
	clientAccepted(t, s, secret, true)
	// The client's own request: a made-up code is refused with invalid_grant, after the
	// client authenticated.
	form := url.Values{"grant_type": {"authorization_code"}, "code": {"sel_ac_made-up"}, "redirect_uri": {testClientRedirect}, "code_verifier": {newPKCE(t).verifier}}
	authenticate := func() {
		if status, body := clientTokenRequest(t, s, form, secret); status != http.StatusBadRequest || !strings.Contains(body, "invalid_grant") {
			t.Fatalf("the client's own request: %d %s", status, body)
		}
	}
	baseline := latencies(t, 7, authenticate)

	attackers := make([]*http.Client, 4)
	for i := range attackers {
		attackers[i] = s.attackerClient(fmt.Sprintf("127.0.13.%d", i+1))
	}
	a := startAttack(len(attackers), 50, func(w int) (int, error) {
		req, err := http.NewRequest(http.MethodPost, s.issuer("/fd1")+"/oauth2/token", strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(url.QueryEscape(testClientID), fmt.Sprintf("wrong-secret-%d", w))
		}
		return statusOf(attackers[w], req, err)
	})
	under, counts, errs := a.during(t, 7, authenticate)
	t.Logf("abuse: client secret hammering (%d wrong secrets: %v, %d errors): the client's own authentication p50 %s (baseline %s)",
		total(counts)+errs, counts, errs, p50(under), p50(baseline))
	// The default allows 20 failures per client, then one a second: the rest are refused
	// without bcrypt.
	if counts[http.StatusUnauthorized] > a.allowed(1, len(attackers), 20, 60) || counts[http.StatusTooManyRequests] == 0 ||
		counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests] != total(counts) {
		t.Errorf("wrong secrets answered %v: more than the burst cost bcrypt", counts)
	}
}

// abuseProxyWithRandomTokens floods an impersonation proxy with bearer tokens nobody
// issued, from addresses of its own, while a certificate user runs kubectl and a
// ServiceAccount token user (a TokenReview each time its cache expires) asks who it is.
func abuseProxyWithRandomTokens(t *testing.T, endpoint string, servingCA []byte, certKubeconfig string, admin kubernetes.Interface) {
	ctx := testContext(t)
	tr, err := admin.CoreV1().ServiceAccounts("default").CreateToken(ctx, "default", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tokenUser := kubernetes.NewForConfigOrDie(&rest.Config{Host: endpoint, BearerToken: tr.Status.Token, TLSClientConfig: rest.TLSClientConfig{CAData: servingCA}})
	legit := func() {
		if _, errOut, err := kubectlWith(t, certKubeconfig, "get", "ns"); err != nil {
			t.Fatalf("kubectl through the proxy: %v %s", err, errOut)
		}
		// A new token each time would only measure TokenReview; the same token is what a
		// real client sends, reviewed again whenever the proxy's cache forgets it.
		if _, err := tokenUser.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("a ServiceAccount token through the proxy: %v", err)
		}
	}
	legit()
	baseline := latencies(t, 5, legit)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(servingCA)
	host := strings.TrimPrefix(endpoint, "https://")
	clients := make([]*http.Client, 4)
	for i := range clients {
		d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(fmt.Sprintf("127.0.14.%d", i+1))}}
		clients[i] = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, DialContext: d.DialContext, ForceAttemptHTTP2: true}}
	}
	var n atomic.Int64
	a := startAttack(8, 250, func(w int) (int, error) {
		req, err := http.NewRequest(http.MethodGet, "https://"+host+"/api/v1/namespaces", nil)
		if err == nil {
			req.Header.Set("Authorization", fmt.Sprintf("Bearer random-token-%d", n.Add(1)))
		}
		return statusOf(clients[w%len(clients)], req, err)
	})
	under, counts, errs := a.during(t, 5, legit)
	t.Logf("abuse: random bearer tokens at the proxy (%d requests from 4 addresses: %v, %d errors): kubectl + token whoami p50 %s (baseline %s)",
		total(counts)+errs, counts, errs, p50(under), p50(baseline))
	// Each address has a burst of 100 failed tokens (then 10 a second): most of the flood
	// is refused without a TokenReview.
	if counts[http.StatusUnauthorized] > a.allowed(len(clients), 2, 100, 600) || counts[http.StatusTooManyRequests] == 0 ||
		counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests] != total(counts) {
		t.Errorf("random tokens answered %v: more TokenReviews than the limit allows, or other answers than 401 and 429", counts)
	}
}
