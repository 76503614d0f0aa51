// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"

	"github.com/selkie-dev/selkie/pkg/certauthority"
)

// TestWatchStreams checks that a watch event reaches the client while the API server
// still holds the response open.
func TestWatchStreams(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	f := newFixture(t, func(a *fakeAPI) {
		a.authorize = allowAll
		a.backend = func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("watch") != "true" { // an ordinary request that outlasts RequestTimeout
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
				return
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintln(w, `{"type":"ADDED","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"first"}}}`)
			http.NewResponseController(w).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
			fmt.Fprintln(w, `{"type":"DELETED","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"first"}}}`)
		}
	}, func(c *Config) { c.RequestTimeout = 100 * time.Millisecond }) // watches must not be cut
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.url+"/api/v1/namespaces/default/configmaps?watch=true", nil)
	if err != nil {
		t.Fatal(err)
	}
	alice := f.client(t, issue(t, f.signer, "alice"))
	resp, err := alice.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewReader(resp.Body)
	got := make(chan string, 1)
	go func() {
		line, _ := lines.ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if !strings.Contains(line, `"ADDED"`) {
			t.Fatalf("first event %q, want ADDED", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event while the API server holds the watch open: the proxy buffers")
	}
	// An ordinary request started now is cut at RequestTimeout: once it is, the watch has
	// been open longer than that.
	if status, body := f.do(t, alice, http.MethodGet, "/api/v1/namespaces", nil); status != http.StatusGatewayTimeout {
		t.Fatalf("an ordinary request got %d %s, want 504 after RequestTimeout", status, body)
	}
	close(release)
	rest, err := io.ReadAll(lines)
	if err != nil || !strings.Contains(string(rest), `"DELETED"`) {
		t.Errorf("rest of the watch %q, %v; want the DELETED event", rest, err)
	}
}

// TestRequestTimeout checks that ordinary requests are bounded.
func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(a *fakeAPI) {
		a.authorize = allowAll
		a.backend = func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
	}, func(c *Config) { c.RequestTimeout = 200 * time.Millisecond })
	start := time.Now()
	status, body := f.do(t, f.client(t, issue(t, f.signer, "alice")), http.MethodGet, "/api/v1/namespaces", nil)
	if status != http.StatusGatewayTimeout || time.Since(start) > 3*time.Second {
		t.Errorf("got %d %s after %s, want 504 after about 200ms", status, body, time.Since(start))
	}
}

// TestUpgrades round-trips bytes both ways through SPDY and WebSocket upgrades, which must
// reach the API server over HTTP/1.1 with the right credentials.
func TestUpgrades(t *testing.T) {
	t.Parallel()
	asAlice := http.Header{"Authorization": {"Bearer " + proxyToken}, "Impersonate-User": {"alice"},
		"Impersonate-Group": {"devs", "system:authenticated"}, credentialIDHeader: {"<elided>"}}
	tests := []struct {
		name     string
		protocol string
		cert     bool   // present alice's certificate
		header   string // extra request header lines
		want     http.Header
	}{
		{name: "SPDY", protocol: "SPDY/3.1", cert: true, want: asAlice},
		{name: "WebSocket", protocol: "websocket", cert: true, header: "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n",
			want: mergeHeaders(asAlice, http.Header{"Sec-Websocket-Protocol": {"v5.channel.k8s.io"}})},
		{
			name: "WebSocket with a ServiceAccount token in the subprotocol", protocol: "websocket",
			header: "Sec-WebSocket-Protocol: base64url.bearer.authorization.k8s.io." +
				base64.RawURLEncoding.EncodeToString([]byte("sa-token")) + ", v5.channel.k8s.io\r\n",
			want: http.Header{"Authorization": {"Bearer sa-token"}, "Sec-Websocket-Protocol": {"v5.channel.k8s.io"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, func(a *fakeAPI) {
				a.authorize, a.backend = allowAll, echoAfterUpgrade(t)
				a.tokens["sa-token"] = authenticationv1.UserInfo{Username: "system:serviceaccount:ns:sa", UID: "sa-uid"}
			}, nil)
			var kp *certauthority.KeyPair
			if tt.cert {
				kp = issue(t, f.signer, "alice", "devs")
			}
			br, conn := upgrade(t, f, kp, tt.protocol, tt.header)
			greeting, err := br.ReadString('\n')
			if err != nil || greeting != "hello from the API server\n" {
				t.Fatalf("read %q, %v; want the server's greeting", greeting, err)
			}
			fmt.Fprint(conn, "ping\n")
			if echo, err := br.ReadString('\n'); err != nil || echo != "ping\n" {
				t.Fatalf("read %q, %v; want the echo", echo, err)
			}
			forwarded := f.api.requests()
			if len(forwarded) != 1 || forwarded[0].ProtoMajor != 1 {
				t.Fatalf("forwarded %d requests (%v), want one over HTTP/1.1", len(forwarded), forwarded)
			}
			if diff := cmp.Diff(tt.want, impersonationHeaders(forwarded[0])); diff != "" {
				t.Errorf("forwarded headers (-want +got):\n%s", diff)
			}
		})
	}
}

// upgrade asks the proxy, over HTTP/1.1, to switch an exec request to protocol, and
// returns the connection once it has.
func upgrade(t *testing.T, f *fixture, kp *certauthority.KeyPair, protocol, header string) (*bufio.Reader, net.Conn) {
	t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(f.url, "https://"), withALPN(f.tlsConfig(t, kp), "http/1.1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "GET /api/v1/namespaces/default/pods/p/exec?command=sh HTTP/1.1\r\nHost: proxy\r\n"+
		"Connection: Upgrade\r\nUpgrade: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"+
		"X-Forwarded-For: 203.0.113.9\r\nX-Real-Ip: 203.0.113.10\r\n%s\r\n", protocol, header)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || !strings.EqualFold(resp.Header.Get("Upgrade"), protocol) {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("got %s Upgrade %q %s, want 101 %s", resp.Status, resp.Header.Get("Upgrade"), body, protocol)
	}
	return br, conn
}

func mergeHeaders(hs ...http.Header) http.Header {
	out := http.Header{}
	for _, h := range hs {
		for k, v := range h {
			out[k] = append(out[k], v...)
		}
	}
	return out
}

func withALPN(cfg *tls.Config, protos ...string) *tls.Config {
	cfg.NextProtos = protos
	return cfg
}

// echoAfterUpgrade switches protocols, greets, and echoes whatever the client sends.
func echoAfterUpgrade(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		protocol := r.Header.Get("Upgrade")
		if protocol == "" || r.ProtoMajor != 1 {
			http.Error(w, "want an HTTP/1.1 upgrade", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\nhello from the API server\n", protocol)
		if err := rw.Flush(); err != nil {
			return
		}
		for {
			line, err := rw.ReadString('\n')
			if err != nil {
				return
			}
			_, _ = rw.WriteString(line)
			if rw.Flush() != nil {
				return
			}
		}
	}
}
