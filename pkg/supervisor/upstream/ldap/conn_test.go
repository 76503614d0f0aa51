// SPDX-License-Identifier: Apache-2.0

package ldap_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/selkie-dev/selkie/pkg/supervisor/upstream"
	upstreamldap "github.com/selkie-dev/selkie/pkg/supervisor/upstream/ldap"
)

func TestSplitHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, host, port string
		wantErr        bool
	}{
		{in: "ldap.example.com", host: "ldap.example.com"},
		{in: "ldap.example.com:636", host: "ldap.example.com", port: "636"},
		{in: "127.0.0.1:1389", host: "127.0.0.1", port: "1389"},
		{in: "[::1]:636", host: "::1", port: "636"},
		{in: "[::1]", host: "::1"},
		{in: "", wantErr: true},
		{in: "ldap.example.com:0", wantErr: true},
		{in: "ldap.example.com:x", wantErr: true},
		{in: "ldaps://ldap.example.com", wantErr: true},
		{in: "ldap.example.com/dc=example", wantErr: true},
	}
	for _, tc := range tests {
		host, port, err := upstreamldap.SplitHost(tc.in)
		if (err != nil) != tc.wantErr || host != tc.host || port != tc.port {
			t.Errorf("SplitHost(%q) = %q, %q, %v", tc.in, host, port, err)
		}
	}
}

func TestProbe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		host       string
		failProto  upstreamldap.Protocol
		bindPW     string
		want       upstreamldap.Protocol
		wantDials  []upstreamldap.Protocol
		wantErr    string
		failAllErr bool
	}{
		{name: "no port: LDAPS first", host: "ldap.example.com", want: upstreamldap.LDAPS, wantDials: []upstreamldap.Protocol{"LDAPS"}},
		{name: "port 636: LDAPS first", host: "ldap.example.com:636", want: upstreamldap.LDAPS, wantDials: []upstreamldap.Protocol{"LDAPS"}},
		{name: "no LDAPS: StartTLS", host: "ldap.example.com", failProto: upstreamldap.LDAPS, want: upstreamldap.StartTLS,
			wantDials: []upstreamldap.Protocol{"LDAPS", "StartTLS"}},
		{name: "other port: StartTLS first", host: "ldap.example.com:1389", want: upstreamldap.StartTLS,
			wantDials: []upstreamldap.Protocol{"StartTLS"}},
		{name: "other port without StartTLS: LDAPS", host: "ldap.example.com:1636", failProto: upstreamldap.StartTLS,
			want: upstreamldap.LDAPS, wantDials: []upstreamldap.Protocol{"StartTLS", "LDAPS"}},
		{name: "wrong bind password ends the probe", host: "ldap.example.com", bindPW: "wrong", wantErr: "bind as",
			wantDials: []upstreamldap.Protocol{"LDAPS"}},
		{name: "nothing connects", host: "ldap.example.com", failAllErr: true, wantErr: "StartTLS: refused",
			wantDials: []upstreamldap.Protocol{"LDAPS", "StartTLS"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newDir()
			if tc.failProto != "" || tc.failAllErr {
				d.dialErr, d.dialErrProto = errors.New("refused"), tc.failProto
			}
			pw := bindPW
			if tc.bindPW != "" {
				pw = tc.bindPW
			}
			got, err := upstreamldap.Probe(context.Background(), d.dial, upstreamldap.Endpoint{Host: tc.host}, bindDN, pw)
			if tc.wantErr == "" && (err != nil || got != tc.want) {
				t.Errorf("Probe = %q, %v; want %q", got, err, tc.want)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Probe = %q, %v; want an error containing %q", got, err, tc.wantErr)
			}
			var dials []upstreamldap.Protocol
			for _, e := range d.dials {
				dials = append(dials, e.Protocol)
			}
			if diff := cmp.Diff(tc.wantDials, dials); diff != "" {
				t.Errorf("dials (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDialFailures runs the real dialer against servers that are not LDAP servers
// one can trust: every failure is an error that is not about credentials.
func TestDialFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	timeout := 5 * time.Second

	t.Run("nothing listens", func(t *testing.T) {
		t.Parallel()
		_, err := upstreamldap.Dial(ctx, upstreamldap.Endpoint{Host: closedPort(t), Protocol: upstreamldap.LDAPS, Timeout: timeout})
		if err == nil || errors.Is(err, upstream.ErrBadCredentials) {
			t.Errorf("Dial: %v", err)
		}
	})
	t.Run("LDAPS with an untrusted certificate", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewTLSServer(http.NotFoundHandler())
		t.Cleanup(srv.Close)
		host := strings.TrimPrefix(srv.URL, "https://")
		_, err := upstreamldap.Dial(ctx, upstreamldap.Endpoint{Host: host, Protocol: upstreamldap.LDAPS, Timeout: timeout})
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("Dial: %v, want a certificate error", err)
		}
		// Trusted, the handshake works, and the server then fails as an LDAP server.
		// The HTTPS server waits for more than an LDAP request: a short request timeout.
		conn, err := upstreamldap.Dial(ctx, upstreamldap.Endpoint{Host: host, Protocol: upstreamldap.LDAPS, Timeout: 300 * time.Millisecond,
			RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs})
		if err != nil {
			t.Fatalf("Dial with the server's CA: %v", err)
		}
		defer func() { _ = conn.Close() }()
		if err := conn.Bind(bindDN, bindPW); err == nil || errors.Is(err, upstream.ErrBadCredentials) {
			t.Errorf("Bind to an HTTPS server: %v", err)
		}
	})
	t.Run("StartTLS refused: nothing else is sent", func(t *testing.T) {
		t.Parallel()
		host, received := refuseStartTLS(t)
		_, err := upstreamldap.Dial(ctx, upstreamldap.Endpoint{Host: host, Protocol: upstreamldap.StartTLS, Timeout: timeout})
		if err == nil || !strings.Contains(err.Error(), "StartTLS") {
			t.Errorf("Dial: %v, want a StartTLS error", err)
		}
		if extra := <-received; len(extra) != 0 {
			t.Errorf("after the refused StartTLS the client sent %q", extra)
		}
	})
}

// refuseStartTLS serves one connection: it answers the first request (StartTLS) with
// protocolError and reports what the client sends afterwards.
func refuseStartTLS(t *testing.T) (string, <-chan []byte) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	received := make(chan []byte, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			received <- nil
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 512)
		n, err := conn.Read(buf)
		if err != nil || n < 5 || buf[2] != 0x02 || buf[3] != 1 {
			received <- []byte("unexpected request")
			return
		}
		// LDAPMessage{messageID, extendedResp{resultCode protocolError(2), "", ""}}
		_, _ = conn.Write([]byte{0x30, 0x0c, 0x02, 0x01, buf[4], 0x78, 0x07, 0x0a, 0x01, 0x02, 0x04, 0x00, 0x04, 0x00})
		extra, _ := io.ReadAll(conn)
		received <- extra
	}()
	return l.Addr().String(), received
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}
