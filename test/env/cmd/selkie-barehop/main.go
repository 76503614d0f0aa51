// SPDX-License-Identifier: Apache-2.0

// Command selkie-barehop is the floor the impersonation proxy is measured against
// (BenchmarkProxyProcesses in test/integration): a bare reverse-proxy hop in a process of
// its own. It serves TLS (a self-signed certificate made at start, HTTP/2 enabled) on a
// loopback address and forwards every request to kube-apiserver over HTTP/2 with a fixed
// bearer token and fixed Impersonate-User, Impersonate-Group and
// Impersonate-Extra-authentication.kubernetes.io%2fcredential-id headers, the ones the
// proxy sends for one user, in place of the client's Authorization and Impersonate-*
// headers. It authenticates nobody, authorizes nothing and logs nothing per request:
// what it costs is what any HTTP/2 hop costs. Anyone who reaches it acts as the user it
// names, so it is for benchmarks on loopback only.
//
// Once it listens it prints its https URL on stdout.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "selkie-barehop:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:0", "loopback host:port to serve on")
	upstream := flag.String("upstream", "", "kube-apiserver URL")
	caFile := flag.String("upstream-ca", "", "PEM file of the CA that verifies kube-apiserver")
	tokenFile := flag.String("token-file", "", "file holding the bearer token sent upstream")
	user := flag.String("user", "", "Impersonate-User sent upstream")
	credentialID := flag.String("credential-id", "", "Impersonate-Extra-authentication.kubernetes.io%2fcredential-id sent upstream (empty: none)")
	var groups []string
	flag.Func("group", "Impersonate-Group sent upstream (repeatable)", func(g string) error { groups = append(groups, g); return nil })
	flag.Parse()
	target, err := url.Parse(*upstream)
	if err != nil || target.Scheme != "https" || *caFile == "" || *tokenFile == "" || *user == "" {
		return errors.New("give -upstream https://..., -upstream-ca, -token-file and -user")
	}
	caPEM, err := os.ReadFile(*caFile)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("no certificate in %s", *caFile)
	}
	token, err := os.ReadFile(*tokenFile)
	if err != nil {
		return err
	}
	bearer := "Bearer " + strings.TrimSpace(string(token))

	var h2 http.Protocols
	h2.SetHTTP2(true)
	var once sync.Once
	hop := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			h := pr.Out.Header
			for k := range h {
				if strings.HasPrefix(k, "Impersonate-") {
					delete(h, k)
				}
			}
			h.Set("Authorization", bearer)
			h.Set("Impersonate-User", *user)
			for _, g := range groups {
				h.Add("Impersonate-Group", g)
			}
			if *credentialID != "" {
				h.Set("Impersonate-Extra-authentication.kubernetes.io%2fcredential-id", *credentialID)
			}
		},
		Transport: &http.Transport{
			Proxy:               nil,
			TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			Protocols:           &h2,
			MaxIdleConnsPerHost: 100,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true, // pass bodies through as they come, like the proxy
		},
		ModifyResponse: func(resp *http.Response) error {
			// Once, so that a run's log says which protocol the floor really used.
			once.Do(func() { fmt.Fprintln(os.Stderr, "selkie-barehop: upstream protocol", resp.Proto) })
			return nil
		},
	}

	cert, err := selfSignedCert()
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	if ip := l.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		l.Close()
		return fmt.Errorf("-listen %s is not a loopback address", *listen)
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	srv := &http.Server{
		Handler:           hop,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		Protocols:         &protocols,
		ReadHeaderTimeout: 10 * time.Second,
	}
	fmt.Printf("https://%s\n", l.Addr())
	return srv.ServeTLS(l, "", "")
}

// selfSignedCert is a fresh ECDSA P-256 serving certificate for the loopback names,
// valid for a day.
func selfSignedCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "selkie-barehop"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
