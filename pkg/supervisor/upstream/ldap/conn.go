// SPDX-License-Identifier: Apache-2.0

package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	ldapv3 "github.com/go-ldap/ldap/v3"
)

// Protocol is how a connection to the server is secured. There is no plaintext
// protocol: binds carry passwords.
type Protocol string

const (
	// LDAPS is TLS from the first byte (default port 636).
	LDAPS Protocol = "LDAPS"
	// StartTLS is a plain connection upgraded with the StartTLS extended operation
	// before anything else is sent (default port 389).
	StartTLS Protocol = "StartTLS"
)

// Default ports of the protocols.
const (
	DefaultLDAPSPort = "636"
	DefaultLDAPPort  = "389"
)

// DefaultTimeout bounds dialing and each request when Endpoint.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Conn is the part of an LDAP connection the provider uses. *ldapv3.Conn implements
// it; tests use an in-memory directory.
type Conn interface {
	Bind(username, password string) error
	Search(req *ldapv3.SearchRequest) (*ldapv3.SearchResult, error)
	Close() error
}

// Endpoint says where an LDAP server is and how to reach it.
type Endpoint struct {
	// Host is spec.host: host[:port], the port defaulting to the protocol's.
	Host     string
	Protocol Protocol
	// RootCAs are the trusted roots; nil means the system roots.
	RootCAs *x509.CertPool
	// Timeout bounds the dial and TLS handshake, and then each request; zero means
	// DefaultTimeout.
	Timeout time.Duration
}

func (e Endpoint) timeout() time.Duration {
	if e.Timeout <= 0 {
		return DefaultTimeout
	}
	return e.Timeout
}

// DialFunc opens a TLS-protected connection to an endpoint. The connection is closed
// when ctx ends.
type DialFunc func(ctx context.Context, e Endpoint) (Conn, error)

// SplitHost splits spec.host into a host and a port; the port is "" when absent. IPv6
// addresses may be bracketed ("[::1]:636", "[::1]").
func SplitHost(hostPort string) (host, port string, err error) {
	host, port, splitErr := net.SplitHostPort(hostPort)
	if splitErr != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(hostPort, "["), "]"), ""
		if strings.Contains(host, "]") || strings.Count(host, ":") == 1 {
			return "", "", fmt.Errorf("host %q is not host[:port]", hostPort)
		}
	}
	if host == "" || strings.ContainsAny(host, "/?#@ \t\r\n[]") {
		return "", "", fmt.Errorf("host %q is not host[:port]", hostPort)
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", "", fmt.Errorf("host %q has an invalid port", hostPort)
		}
	}
	return host, port, nil
}

// protocolOrder is the order in which Probe tries the protocols: LDAPS first when the
// host names no port or port 636 (docs/wire-contract.md §1.8), StartTLS first otherwise.
func protocolOrder(port string) []Protocol {
	if port == "" || port == DefaultLDAPSPort {
		return []Protocol{LDAPS, StartTLS}
	}
	return []Protocol{StartTLS, LDAPS}
}

// Dial connects to e with TLS (LDAPS, or StartTLS before anything else is sent),
// verifying the server's certificate against e.RootCAs for the host name of e.Host.
func Dial(ctx context.Context, e Endpoint) (Conn, error) {
	host, port, err := SplitHost(e.Host)
	if err != nil {
		return nil, err
	}
	if port == "" {
		port = DefaultLDAPPort
		if e.Protocol == LDAPS {
			port = DefaultLDAPSPort
		}
	}
	addr := net.JoinHostPort(host, port)
	timeout := e.timeout()
	dialCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	raw, err := (&net.Dialer{}).DialContext(dialCtx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	_ = raw.SetDeadline(time.Now().Add(timeout)) // for the handshakes only
	cfg := &tls.Config{RootCAs: e.RootCAs, ServerName: host, MinVersion: tls.VersionTLS12}
	var conn *ldapv3.Conn
	switch e.Protocol {
	case LDAPS:
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(dialCtx); err != nil {
			_ = raw.Close()
			return nil, fmt.Errorf("LDAPS handshake with %s: %w", addr, err)
		}
		conn = ldapv3.NewConn(tc, true)
		conn.Start()
	case StartTLS:
		conn = ldapv3.NewConn(raw, false)
		conn.Start()
		conn.SetTimeout(timeout)
		if err := conn.StartTLS(cfg); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("StartTLS with %s: %w", addr, err)
		}
	default:
		_ = raw.Close()
		return nil, fmt.Errorf("unknown LDAP protocol %q", e.Protocol)
	}
	_ = raw.SetDeadline(time.Time{})
	conn.SetTimeout(timeout)
	return &ctxConn{Conn: conn, stop: context.AfterFunc(ctx, func() { _ = conn.Close() })}, nil
}

// ctxConn is a connection that closes when its context ends.
type ctxConn struct {
	*ldapv3.Conn
	stop func() bool
}

func (c *ctxConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// Probe finds how to reach the server at e.Host by connecting with each protocol in
// turn (see protocolOrder) and binding with the given credentials over the first one
// that connects. A failed bind over a working connection ends the probe: the other
// protocol would not make the credentials right.
func Probe(ctx context.Context, dial DialFunc, e Endpoint, bindUsername, bindPassword string) (Protocol, error) {
	_, port, err := SplitHost(e.Host)
	if err != nil {
		return "", err
	}
	var errs []error
	for _, proto := range protocolOrder(port) {
		e.Protocol = proto
		conn, err := dial(ctx, e)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", proto, err))
			continue
		}
		err = conn.Bind(bindUsername, bindPassword)
		_ = conn.Close()
		if err != nil {
			return "", fmt.Errorf("bind as %q over %s: %w", bindUsername, proto, err)
		}
		return proto, nil
	}
	return "", errors.Join(errs...)
}
