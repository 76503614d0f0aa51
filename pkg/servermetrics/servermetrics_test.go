// SPDX-License-Identifier: Apache-2.0

package servermetrics

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	certutil "k8s.io/client-go/util/cert"
)

// TestMetricsFollowConventions lints every metric of both servers, each with a sample, as
// Prometheus' own linter does (names, units, suffixes, help).
func TestMetricsFollowConventions(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	SupervisorLogins.WithLabelValues("fd", "idp", "oidc", "cli_password", LoginSuccess)
	SupervisorRefreshes.WithLabelValues("fd", "idp", "oidc", RefreshSuccess)
	SupervisorTokenExchanges.WithLabelValues("fd", Success)
	ObserveUpstream("idp", "oidc", UpstreamRefresh, time.Now(), nil)
	SigningKeyRotations.WithLabelValues("fd")
	RateLimited.WithLabelValues("requests")
	IdentityProviderReady.WithLabelValues("OIDCIdentityProvider", "idp")
	TokenCredentialRequests.WithLabelValues("JWTAuthenticator", "jwt", Success, ReasonNone)
	CertificatesIssued.WithLabelValues("ImpersonationProxy")
	ProxyRequests.WithLabelValues("get", "200")
	ProxyDuration.WithLabelValues("get").Observe(0.01)
	AuthenticatorReady.WithLabelValues("JWTAuthenticator", "jwt")
	all := []prometheus.Collector{SupervisorLogins, SupervisorRefreshes, SupervisorTokenExchanges, UpstreamDuration, Sessions,
		SigningKeyRotations, RateLimited, IdentityProviderReady,
		TokenCredentialRequests, CertificatesIssued, ProxyRequests, ProxyDuration, AuthenticatorReady}
	for _, c := range all {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(families) != len(all) {
		t.Fatalf("gathered %d families, want %d", len(families), len(all))
	}
	problems, err := promlint.NewWithMetricFamilies(families).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	for _, mf := range families {
		if !strings.HasPrefix(mf.GetName(), "selkie_supervisor_") && !strings.HasPrefix(mf.GetName(), "selkie_concierge_") {
			t.Errorf("%s is not named selkie_<server>_…", mf.GetName())
		}
	}
}

// TestRegisterTwice: a second registration (a test, or both servers in one process) keeps
// the first.
func TestRegisterTwice(t *testing.T) {
	for range 2 {
		if err := RegisterSupervisor(); err != nil {
			t.Fatal(err)
		}
		if err := RegisterConcierge(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestValidateAddress(t *testing.T) {
	for addr, ok := range map[string]bool{
		"": true, ":10251": true, "0.0.0.0:10251": true, "[::]:10251": true, "127.0.0.1:0": true,
		"10251": false, "metrics.example:10251": false, ":http": false, ":70000": false,
	} {
		if err := ValidateAddress(addr); (err == nil) != ok {
			t.Errorf("ValidateAddress(%q) = %v, want ok %v", addr, err, ok)
		}
	}
}

func TestValidateProfilingAddress(t *testing.T) {
	for addr, ok := range map[string]bool{
		"": true, "127.0.0.1:6060": true, "[::1]:6060": true, "localhost:6060": true, "127.0.0.2:0": true,
		":6060": false, "0.0.0.0:6060": false, "10.0.0.1:6060": false, "[::]:6060": false, "6060": false,
	} {
		if err := ValidateProfilingAddress(addr); (err == nil) != ok {
			t.Errorf("ValidateProfilingAddress(%q) = %v, want ok %v", addr, err, ok)
		}
	}
}

func TestServeProfiles(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	if _, err := ServeProfiles(ctx, "0.0.0.0:0", log); err == nil {
		t.Fatal("a non-loopback address was accepted")
	}
	addr, err := ServeProfiles(ctx, "127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr.String() + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine profile") {
		t.Fatalf("status %d, body %.200s", resp.StatusCode, body)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := http.Get("http://" + addr.String() + "/debug/pprof/")
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the profiling server still answers after its context ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFileCert: self-signed until the files exist, then theirs, reloaded when they change;
// a broken pair keeps the last good one.
func TestFileCert(t *testing.T) {
	dir := t.TempDir()
	f := &fileCert{certFile: filepath.Join(dir, "tls.crt"), keyFile: filepath.Join(dir, "tls.key"), log: slog.New(slog.DiscardHandler)}
	subject := func() string {
		t.Helper()
		c, err := f.get(nil)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.Subject.CommonName
	}
	if got := subject(); !strings.HasPrefix(got, "localhost") {
		t.Fatalf("without files: %q, want the self-signed localhost certificate", got)
	}
	write := func(host string, mod time.Time) {
		t.Helper()
		certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey(host, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		// GenerateSelfSignedCertKey returns the certificate and its CA: keep the first.
		block, _ := pem.Decode(certPEM)
		certPEM = pem.EncodeToMemory(block)
		if err := os.WriteFile(f.keyFile, keyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f.certFile, certPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(f.certFile, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Now().Add(-time.Hour)
	write("one.example", base)
	if got := subject(); !strings.HasPrefix(got, "one.example") {
		t.Fatalf("after the files appeared: %q", got)
	}
	write("two.example", base.Add(time.Minute))
	if got := subject(); !strings.HasPrefix(got, "two.example") {
		t.Fatalf("after the files changed: %q", got)
	}
	if err := os.WriteFile(f.keyFile, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(f.certFile, base.Add(2*time.Minute), base.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := subject(); !strings.HasPrefix(got, "two.example") {
		t.Fatalf("with a broken key file: %q, want the last good certificate", got)
	}
}

func TestStart(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	registered := 0
	register := func() error { registered++; return nil }
	if err := Start(t.Context(), "metrics:10251", "", register, log); err == nil || registered != 0 {
		t.Errorf("a bad --metrics-address: %v, %d registrations; want an error before registering", err, registered)
	}
	if err := Start(t.Context(), ":0", "", func() error { return errors.New("taken") }, log); err == nil || !strings.Contains(err.Error(), "taken") {
		t.Errorf("a registration failure: %v", err)
	}
	if err := Start(t.Context(), ":0", "0.0.0.0:0", register, log); err == nil {
		t.Error("a non-loopback --profiling-address was accepted")
	}
	if err := Start(t.Context(), "", "127.0.0.1:0", register, log); err != nil || registered != 2 {
		t.Errorf("metrics off, profiles on: %v after %d registrations", err, registered)
	}
}
