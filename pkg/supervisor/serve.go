// SPDX-License-Identifier: Apache-2.0

package supervisor

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/selkie-dev/selkie/pkg/aggregatedapi"
	"github.com/selkie-dev/selkie/pkg/apis/suffix"
	"github.com/selkie-dev/selkie/pkg/internal/memtrim"
	"github.com/selkie-dev/selkie/pkg/logfingerprint"
	"github.com/selkie-dev/selkie/pkg/ratelimit"
	"github.com/selkie-dev/selkie/pkg/serverlog"
	"github.com/selkie-dev/selkie/pkg/servermetrics"
	"github.com/selkie-dev/selkie/pkg/shutdown"
	"github.com/selkie-dev/selkie/pkg/supervisor/federationdomain"
	"github.com/selkie-dev/selkie/pkg/supervisor/keys"
	"github.com/selkie-dev/selkie/pkg/supervisor/oidcprovider"
	"github.com/selkie-dev/selkie/pkg/supervisor/sessionstore"
)

// DefaultSuffix is the API group suffix unless configured otherwise.
const DefaultSuffix = "selkie.dev"

type serveFlags struct {
	shutdownDelay                 time.Duration
	kubeconfig, namespace, suffix string
	httpsAddress, httpAddress     string
	tlsCertFile, tlsKeyFile       string
	defaultTLSSecret              string
	logLevel                      string
	logUserInfo                   bool
	logFingerprintKeyFile         string
	logFingerprint                *logfingerprint.Key
	limits                        oidcprovider.LimitsConfig
	trustedProxies                string
	builtLimits                   *oidcprovider.Limits
	keyRotationPeriod             time.Duration
	sessionKeySecret              string
	gcInterval                    time.Duration
	kubeQPS                       float32
	kubeBurst                     int
	lifetimes                     oidcprovider.Lifetimes
	api                           apiFlags
	metricsAddress                string
	profilingAddress              string
	trimStartupMemory             bool
}

// apiFlags configure the aggregated API server (clientsecret.supervisor.<suffix> and
// session.supervisor.<suffix>).
type apiFlags struct {
	bindAddress       string
	port              int
	serviceName       string
	servingCertSecret string
	certDir           string
}

func newServeCommand() *cobra.Command {
	f := &serveFlags{lifetimes: oidcprovider.DefaultLifetimes(), limits: oidcprovider.DefaultLimits()}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the FederationDomains' OpenID Connect issuers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := serverlog.New(f.logLevel)
			if err != nil {
				return err
			}
			ctx, stop := shutdown.OnSignal(cmd.Context(), f.shutdownDelay, log)
			defer stop()
			return runServe(ctx, f)
		},
	}
	fs := cmd.Flags()
	fs.DurationVar(&f.shutdownDelay, "shutdown-delay", 0, "after SIGTERM, keep serving this long before shutting down gracefully, while Services stop routing to the pod (the install templates use 5s)")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig to reach the cluster (default: in-cluster configuration)")
	fs.StringVar(&f.namespace, "namespace", "selkie-supervisor", "namespace of the FederationDomains, identity providers and sessions")
	fs.StringVar(&f.suffix, "api-group-suffix", DefaultSuffix, "API group suffix (pinniped.dev for the reference groups)")
	fs.StringVar(&f.httpsAddress, "https-address", ":8443", "address of the HTTPS listener")
	fs.StringVar(&f.httpAddress, "http-address", "", "optional plain-HTTP listener: a loopback address (127.0.0.1:port, [::1]:port) or unix:<path>")
	fs.StringVar(&f.tlsCertFile, "tls-cert-file", "", "default serving certificate (PEM) for hosts without a FederationDomain TLS Secret (default: a self-signed bootstrap certificate)")
	fs.StringVar(&f.tlsKeyFile, "tls-key-file", "", "key of --tls-cert-file")
	fs.StringVar(&f.defaultTLSSecret, "default-tls-secret", "", "kubernetes.io/tls Secret in --namespace served to clients whose TLS server name matches no FederationDomain TLS Secret, such as every client of an issuer whose host is an IP address (they send no server name); followed as it changes; before --tls-cert-file")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.metricsAddress, "metrics-address", "", "host:port of the HTTPS Prometheus endpoint /metrics, for callers allowed get on that non-resource URL (TokenReview and SubjectAccessReview); served with the aggregated API's certificate (default: off)")
	fs.StringVar(&f.profilingAddress, "profiling-address", "", "loopback host:port serving Go profiles under /debug/pprof/ (default: off)")
	fs.BoolVar(&f.trimStartupMemory, "trim-startup-memory", true, "a minute after start, release the pages of the program that only its start-up used (they come back from the page cache if needed)")
	fs.BoolVar(&f.logUserInfo, "log-user-info", false, "put usernames and groups in audit events (redacted by default)")
	fs.StringVar(&f.logFingerprintKeyFile, "log-fingerprint-key-file", "", "file with the key (at least 32 bytes) of the HMAC that fingerprints usernames in audit events, so all replicas agree and its holder can search for a user (default: a random key per process)")
	fs.DurationVar(&f.keyRotationPeriod, "signing-key-rotation-period", keys.DefaultPeriod, "how long each FederationDomain signing key signs before the next takes over")
	fs.StringVar(&f.sessionKeySecret, "session-encryption-secret", "selkie-supervisor-session-encryption", "Secret in --namespace with the keys that seal upstream tokens in sessions")
	fs.DurationVar(&f.gcInterval, "session-gc-interval", 5*time.Minute, "how often expired sessions are deleted")
	// Every login, refresh and exchange reads or writes a session Secret: client-go's
	// default of 5 requests per second would queue them (200 ms each at that rate).
	fs.Float32Var(&f.kubeQPS, "kube-api-qps", 200, "requests per second to the Kubernetes API (sessions are Secrets)")
	fs.IntVar(&f.kubeBurst, "kube-api-burst", 400, "burst of requests to the Kubernetes API")
	fs.DurationVar(&f.lifetimes.AccessToken, "access-token-lifetime", f.lifetimes.AccessToken, "lifetime of access tokens (1m to 15m)")
	fs.DurationVar(&f.lifetimes.IDToken, "id-token-lifetime", f.lifetimes.IDToken, "lifetime of ID tokens from authcode and refresh grants (2m to 30m)")
	fs.DurationVar(&f.lifetimes.ExchangeIDToken, "exchange-id-token-lifetime", f.lifetimes.ExchangeIDToken, "lifetime of cluster-audience ID tokens from token exchange (1m to 10m)")
	fs.DurationVar(&f.lifetimes.Session, "session-lifetime", f.lifetimes.Session, "how long a login lasts, refreshes included (1h to 168h)")
	fs.Var(&f.limits.Requests, "rate-limit-requests", "requests per minute/burst per client address to the login, token, revoke and device endpoints (0: no limit)")
	fs.Var(&f.limits.PasswordFailuresPerAddress, "rate-limit-password-failures-per-address", "failed password logins per minute/burst per client address; beyond it attempts get 429 without reaching the upstream")
	fs.Var(&f.limits.PasswordFailuresPerUsername, "rate-limit-password-failures-per-username", "failed password logins per minute/burst per username and identity provider; keep the burst below an Active Directory lockout threshold")
	fs.Var(&f.limits.DeviceAuthorizations, "rate-limit-device-authorizations", "device login starts per minute/burst per client address")
	fs.IntVar(&f.limits.MaxPendingDeviceLogins, "max-pending-device-logins", f.limits.MaxPendingDeviceLogins, "device logins this replica started that may be pending at once (0: no bound)")
	fs.Var(&f.limits.UserCodeFailures, "rate-limit-user-code-failures", "wrong device user codes per minute/burst per client address")
	fs.Var(&f.limits.ClientSecretFailures, "rate-limit-client-secret-failures", "failed client authentications per minute/burst per OIDCClient (each costs bcrypt comparisons)")
	fs.StringVar(&f.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs of load balancers or ingresses that terminate client connections; for requests from them the client address is the right-most untrusted X-Forwarded-For entry (default: none, the connection's peer is the client)")
	fs.StringVar(&f.api.bindAddress, "api-bind-address", "0.0.0.0", "address the aggregated API (OIDCClientSecretRequest, SupervisorSession) listens on")
	fs.IntVar(&f.api.port, "api-port", 10250, "HTTPS port of the aggregated API (0: do not serve it)")
	fs.StringVar(&f.api.serviceName, "api-service-name", "selkie-supervisor-api", "Service in --namespace the APIService points at (names the API serving certificate)")
	fs.StringVar(&f.api.servingCertSecret, "api-serving-cert-secret", "selkie-supervisor-api-tls", "Secret in --namespace holding the aggregated API's serving CA and certificate")
	fs.StringVar(&f.api.certDir, "api-cert-dir", "", "directory for the aggregated API's serving certificate files (default: a new temp dir)")
	return cmd
}

// validateLifetimes applies the bounds of docs/wire-contract.md §5.
func validateLifetimes(l oidcprovider.Lifetimes) error {
	for _, b := range []struct {
		flag     string
		v        time.Duration
		min, max time.Duration
	}{
		{"--access-token-lifetime", l.AccessToken, time.Minute, 15 * time.Minute},
		{"--id-token-lifetime", l.IDToken, 2 * time.Minute, 30 * time.Minute},
		{"--exchange-id-token-lifetime", l.ExchangeIDToken, time.Minute, 10 * time.Minute},
		{"--session-lifetime", l.Session, time.Hour, 7 * 24 * time.Hour},
	} {
		if b.v < b.min || b.v > b.max {
			return fmt.Errorf("%s %s is outside %s to %s", b.flag, b.v, b.min, b.max)
		}
	}
	return nil
}

//nolint:gocyclo // a linear sequence of setup steps, each failing with its own error.
func runServe(ctx context.Context, f *serveFlags) error {
	log, err := serverlog.New(f.logLevel)
	if err != nil {
		return err
	}
	serverlog.RouteKlog(log)
	if err := suffix.Validate(f.suffix); err != nil {
		return fmt.Errorf("--api-group-suffix: %w", err)
	}
	if err := validateLifetimes(f.lifetimes); err != nil {
		return err
	}
	if err := validateAPIFlags(&f.api); err != nil {
		return err
	}
	if f.logFingerprint, err = logfingerprint.New(f.logFingerprintKeyFile); err != nil {
		return fmt.Errorf("--log-fingerprint-key-file: %w", err)
	}
	if f.limits.Address.Trusted, err = ratelimit.ParsePrefixes(f.trustedProxies); err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	if f.limits.MaxPendingDeviceLogins < 0 {
		return fmt.Errorf("--max-pending-device-logins %d is negative", f.limits.MaxPendingDeviceLogins)
	}
	f.builtLimits = oidcprovider.NewLimits(f.limits)
	if err := servermetrics.Start(ctx, f.metricsAddress, f.profilingAddress, servermetrics.RegisterSupervisor, log); err != nil {
		return err
	}
	if f.trimStartupMemory {
		go memtrim.AfterStartup(ctx, time.Minute, log.With("component", "memtrim"))
	}
	if f.api.certDir == "" && f.api.port != 0 {
		if f.api.certDir, err = os.MkdirTemp("", "selkie-supervisor-certs-"); err != nil {
			return err
		}
		defer os.RemoveAll(f.api.certDir)
	}
	kubeCfg, err := aggregatedapi.RESTConfig(f.kubeconfig)
	if err != nil {
		return fmt.Errorf("kubernetes client configuration: %w", err)
	}
	kubeCfg.QPS, kubeCfg.Burst = f.kubeQPS, f.kubeBurst
	// Sessions are Secrets read or written at every login, refresh and exchange: in
	// protobuf they cost this process and the API server less to encode and decode than
	// in JSON. (The controllers keep JSON: custom resources have no protobuf form.)
	secretsCfg := rest.CopyConfig(kubeCfg)
	secretsCfg.ContentType = runtime.ContentTypeProtobuf
	secretsCfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	kube, err := kubernetes.NewForConfig(secretsCfg)
	if err != nil {
		return err
	}
	secrets := kube.CoreV1().Secrets(f.namespace)
	keyring, err := sessionstore.LoadKeyring(ctx, secrets, f.sessionKeySecret, time.Now)
	if err != nil {
		return fmt.Errorf("session encryption keys: %w", err)
	}
	go keyring.RunReload(ctx, time.Minute, log.With("component", "session-keyring"))
	store := sessionstore.NewSecretStore(secrets, keyring, sessionstore.WithLogger(log.With("component", "sessions")))
	router := &federationdomain.Router{}
	mgr, registry, err := newManager(kubeCfg, f, store, router, log)
	if err != nil {
		return err
	}
	gc := &sessionstore.GC{Store: store, Interval: f.gcInterval, Log: log.With("component", "session-gc"),
		Revoke: revokeUpstream(registry), Sessions: func(n int) { servermetrics.Sessions.Set(float64(n)) }}
	go gc.Run(ctx)
	errc := make(chan error, 4)
	go func() { errc <- mgr.Start(ctx) }()
	if f.api.port != 0 {
		go func() {
			if err := runAPIServer(ctx, f, mgr, store, registry, log); err != nil {
				errc <- fmt.Errorf("aggregated API: %w", err)
			}
		}()
	}
	if err := startListeners(ctx, f, router, log, errc); err != nil {
		return err
	}
	log.InfoContext(ctx, "supervisor started", "namespace", f.namespace, "apiGroupSuffix", f.suffix, "https", f.httpsAddress,
		"api", apiAddress(&f.api))
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	}
}
