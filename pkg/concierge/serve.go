// SPDX-License-Identifier: Apache-2.0

package concierge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"

	conciergeclient "github.com/selkie-dev/selkie/generated/client/concierge/clientset/versioned"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/apis/suffix"
	"github.com/selkie-dev/selkie/pkg/certauthority"
	"github.com/selkie-dev/selkie/pkg/concierge/authenticator"
	"github.com/selkie-dev/selkie/pkg/concierge/controller/credentialissuer"
	"github.com/selkie-dev/selkie/pkg/concierge/impersonationproxy"
	"github.com/selkie-dev/selkie/pkg/concierge/issuer"
	"github.com/selkie-dev/selkie/pkg/concierge/issuer/csr"
	"github.com/selkie-dev/selkie/pkg/concierge/issuer/signingkey"
	"github.com/selkie-dev/selkie/pkg/concierge/server"
	"github.com/selkie-dev/selkie/pkg/internal/memtrim"
	"github.com/selkie-dev/selkie/pkg/logfingerprint"
	"github.com/selkie-dev/selkie/pkg/ratelimit"
	"github.com/selkie-dev/selkie/pkg/serverlog"
	"github.com/selkie-dev/selkie/pkg/servermetrics"
	"github.com/selkie-dev/selkie/pkg/shutdown"
)

type serveFlags struct {
	shutdownDelay                   time.Duration
	kubeconfig, namespace, suffix   string
	bindAddress                     string
	securePort                      int
	serviceName, servingCertSecret  string
	certDir                         string
	credentialIssuer                string
	credentialIssuerSpec            string
	parsedCredentialIssuerSpec      *configv1alpha1.CredentialIssuerSpec
	leaderElect                     bool
	signingCertFile, signingKeyFile string
	signingSecret                   string
	csrSigning                      bool
	certTTL                         time.Duration
	logLevel                        string
	logUserInfo                     bool
	logFingerprintKeyFile           string
	kubeQPS                         float32
	proxyTokenFailures              ratelimit.Rule
	loginFailures                   ratelimit.Rule
	kubeBurst                       int

	metricsAddress, profilingAddress string
	trimStartupMemory                bool

	impersonationProxy         bool
	proxyPort                  int
	proxyServiceAccount        string
	proxyNamePrefix            string
	proxyServiceSelector       map[string]string
	impersonationProxyResyncPd time.Duration
}

func newServeCommand() *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the TokenCredentialRequest and WhoAmIRequest APIs",
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
	fs.StringVar(&f.namespace, "namespace", "selkie-concierge", "namespace holding the concierge's Secrets")
	fs.StringVar(&f.suffix, "api-group-suffix", server.DefaultSuffix, "API group suffix (pinniped.dev for the reference groups)")
	fs.StringVar(&f.bindAddress, "bind-address", "0.0.0.0", "address to serve on")
	fs.IntVar(&f.securePort, "secure-port", 10250, "HTTPS port")
	fs.StringVar(&f.serviceName, "service-name", "selkie-concierge-api", "Service the APIServices point at (names the serving certificate)")
	fs.StringVar(&f.servingCertSecret, "serving-cert-secret", "selkie-concierge-api-tls", "Secret holding the serving CA and certificate")
	fs.StringVar(&f.certDir, "cert-dir", "", "directory for the serving certificate files (default: a new temp dir)")
	fs.StringVar(&f.signingCertFile, "cluster-signing-cert-file", "", "cluster client-signing CA certificate (KubeClusterSigningCertificate strategy)")
	fs.StringVar(&f.signingKeyFile, "cluster-signing-key-file", "", "cluster client-signing CA key")
	fs.StringVar(&f.signingSecret, "cluster-signing-secret", "", "Secret in --namespace with the cluster signing tls.crt and tls.key (instead of files)")
	fs.BoolVar(&f.csrSigning, "csr-signing", false, "issue through the CSR API (KubeCSRSigningCertificate; certificates live at least 10 minutes); tried after the signing key")
	fs.DurationVar(&f.certTTL, "certificate-ttl", certauthority.DefaultTTL, fmt.Sprintf("lifetime of issued client certificates (%s to %s)", certauthority.MinTTL, certauthority.MaxTTL))
	fs.StringVar(&f.credentialIssuer, "credential-issuer", "selkie-concierge-config", "name of the CredentialIssuer that reports the strategies")
	fs.StringVar(&f.credentialIssuerSpec, "credential-issuer-spec", "", "JSON spec of the CredentialIssuer: created with it, and updated to it when this value changes (an upgrade with new values); empty: created with the proxy in auto mode behind a LoadBalancer and never updated")
	fs.BoolVar(&f.leaderElect, "leader-elect", true, "elect a leader among replicas (Lease selkie-concierge in --namespace) to write the CredentialIssuer; losing the lease never stops the replica")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.metricsAddress, "metrics-address", "", "host:port of the HTTPS Prometheus endpoint /metrics, for callers allowed get on that non-resource URL (TokenReview and SubjectAccessReview); served with the API's certificate (default: off)")
	fs.StringVar(&f.profilingAddress, "profiling-address", "", "loopback host:port serving Go profiles under /debug/pprof/ (default: off)")
	fs.BoolVar(&f.trimStartupMemory, "trim-startup-memory", true, "a minute after start, release the pages of the program that only its start-up used (they come back from the page cache if needed)")
	fs.BoolVar(&f.logUserInfo, "log-user-info", false, "put usernames and groups in audit lines (redacted by default)")
	fs.Float32Var(&f.kubeQPS, "kube-api-qps", 100, "requests per second to the Kubernetes API, for each of the concierge's three clients (controllers and leader election; CSR-strategy logins; the impersonation proxy's TokenReviews, SubjectAccessReviews and token), so that load on one cannot starve the others")
	fs.IntVar(&f.kubeBurst, "kube-api-burst", 200, "burst of requests to the Kubernetes API, for each of the three clients")
	f.proxyTokenFailures = ratelimit.Rule{PerMinute: 600, Burst: 100}
	fs.Var(&f.proxyTokenFailures, "impersonation-proxy-token-failures", "bearer tokens per minute/burst per client address that may fail their TokenReview at the impersonation proxy; beyond it requests with a bearer token get 429 without a review (0: no limit)")
	f.loginFailures = ratelimit.Rule{PerMinute: 600, Burst: 100}
	fs.Var(&f.loginFailures, "login-failures", "failed TokenCredentialRequests per minute/burst per client address (as kube-apiserver reports it); beyond it logins get 429 before their token is checked (0: no limit)")
	fs.StringVar(&f.logFingerprintKeyFile, "log-fingerprint-key-file", "", "file with the key (at least 32 bytes) of the HMAC that fingerprints tokens in audit lines, so all replicas agree and its holder can search for a token (default: a random key per process)")
	fs.BoolVar(&f.impersonationProxy, "impersonation-proxy", true, "run the impersonation proxy as the CredentialIssuer's spec.impersonationProxy says, and issue certificates with its signer CA after the other strategies")
	fs.IntVar(&f.proxyPort, "impersonation-proxy-port", 8444, "port the impersonation proxy listens on (on --bind-address)")
	fs.StringVar(&f.proxyServiceAccount, "impersonation-proxy-service-account", "selkie-concierge-impersonation-proxy", "ServiceAccount in --namespace whose token the impersonation proxy impersonates with")
	fs.StringVar(&f.proxyNamePrefix, "impersonation-proxy-name-prefix", "selkie-concierge", "prefix of the impersonation proxy's Secrets (<prefix>-impersonation-proxy-signer, -tls) and Service (<prefix>-impersonation-proxy)")
	fs.StringToStringVar(&f.proxyServiceSelector, "impersonation-proxy-service-selector", map[string]string{"app": "selkie-concierge"}, "pod selector of the impersonation proxy's Service")
	fs.DurationVar(&f.impersonationProxyResyncPd, "impersonation-proxy-resync", 30*time.Second, "how often the impersonation proxy configuration is re-evaluated")
	return cmd
}

//nolint:gocyclo,funlen // a linear sequence of setup steps, each failing with its own error.
func runServe(ctx context.Context, f *serveFlags) error {
	log, err := serverlog.New(f.logLevel)
	if err != nil {
		return err
	}
	serverlog.RouteKlog(log)
	if err := servermetrics.Start(ctx, f.metricsAddress, f.profilingAddress, servermetrics.RegisterConcierge, log); err != nil {
		return err
	}
	if f.trimStartupMemory {
		go memtrim.AfterStartup(ctx, time.Minute, log.With("component", "memtrim"))
	}
	groups, err := server.GroupsFor(f.suffix)
	if err != nil {
		return err
	}
	fingerprint, err := logfingerprint.New(f.logFingerprintKeyFile)
	if err != nil {
		return fmt.Errorf("--log-fingerprint-key-file: %w", err)
	}
	if f.credentialIssuerSpec != "" {
		if f.parsedCredentialIssuerSpec, err = credentialissuer.ParseSpec(f.credentialIssuerSpec); err != nil {
			return fmt.Errorf("--credential-issuer-spec: %w", err)
		}
	}
	bind := net.ParseIP(f.bindAddress)
	if bind == nil {
		return fmt.Errorf("--bind-address %q is not an IP address", f.bindAddress)
	}
	if f.certDir == "" {
		if f.certDir, err = os.MkdirTemp("", "selkie-concierge-certs-"); err != nil {
			return err
		}
		defer os.RemoveAll(f.certDir)
	}
	kubeCfg, err := server.RESTConfig(f.kubeconfig)
	if err != nil {
		return fmt.Errorf("kubernetes client configuration: %w", err)
	}
	if f.kubeQPS <= 0 || f.kubeBurst <= 0 {
		return fmt.Errorf("--kube-api-qps (%v) and --kube-api-burst (%d) must be positive", f.kubeQPS, f.kubeBurst)
	}
	kubeCfg.QPS, kubeCfg.Burst = f.kubeQPS, f.kubeBurst
	clients, err := newKubeClients(kubeCfg)
	if err != nil {
		return err
	}
	kube := clients.control
	// A strategy whose state changes (a signing key that appears) wakes the status writer.
	strategyChanged := make(chan struct{}, 1)
	chain, reporters, err := buildStrategies(ctx, f, clients, strategyChanged, log)
	if err != nil {
		return err
	}
	authenticators := authenticator.NewCache()
	if f.impersonationProxy {
		if f.proxyPort <= 0 || f.proxyPort > 65535 {
			return fmt.Errorf("--impersonation-proxy-port %d is not a port", f.proxyPort)
		}
		ciClient, err := conciergeclient.NewForConfig(suffix.WrapConfig(kubeCfg, f.suffix))
		if err != nil {
			return err
		}
		proxy := impersonationproxy.NewController(impersonationproxy.Config{
			Kube: clients.proxy, Concierge: ciClient, Upstream: kubeCfg, Namespace: f.namespace, NamePrefix: f.proxyNamePrefix,
			CredentialIssuer: f.credentialIssuer, BindAddress: bind, Port: f.proxyPort, ServiceSelector: f.proxyServiceSelector,
			ServiceAccount: f.proxyServiceAccount, CertTTL: f.certTTL, APIGroupSuffix: f.suffix, LogUserInfo: f.logUserInfo,
			TokenFailures: f.proxyTokenFailures, JWTAuthenticators: authenticators, Fingerprint: fingerprint.Of,
			Log: log.With("controller", "impersonationproxy"),
		})
		// Every replica serves the proxy while it is active, leader or not.
		proxyCtx, stopProxy := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); proxy.Run(proxyCtx, f.impersonationProxyResyncPd) }()
		defer func() { stopProxy(); <-done }()
		chain = append(chain, issuer.Named{Type: string(configv1alpha1.ImpersonationProxyStrategyType), Strategy: proxy.Signer()})
		reporters = append(reporters, impersonationproxy.Reporter{Controller: proxy})
	}
	if len(chain) == 0 {
		return errors.New("no issuing strategy: give --cluster-signing-cert-file and --cluster-signing-key-file, --cluster-signing-secret or --csr-signing, or leave --impersonation-proxy on")
	}
	mgr, err := newManager(kubeCfg, f.suffix, f.namespace, groups, authenticators,
		servermetrics.ServerOptions(f.metricsAddress, filepath.Clean(f.certDir), log.With("component", "metrics")), log)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if err := startStatusWriter(ctx, kubeCfg, kube, f, reporters, strategyChanged, log); err != nil {
		return err
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			cancel(fmt.Errorf("controllers stopped: %w", err))
		}
	}()
	err = server.Run(ctx, server.Config{
		Kubeconfig: f.kubeconfig, Namespace: f.namespace, Groups: groups,
		BindAddress: bind, SecurePort: f.securePort,
		ServiceName: f.serviceName, ServingCertSecret: f.servingCertSecret, CertDir: filepath.Clean(f.certDir),
		Authenticators: authenticators, Issuer: chain, LogUserInfo: f.logUserInfo, Fingerprint: fingerprint, LoginFailures: f.loginFailures, Log: log,
	})
	if cause := context.Cause(ctx); err == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	return err
}

// buildStrategies returns the configured issuing strategies in the contract's order and
// their CredentialIssuer reporters: the cluster signing key (files or Secret), then the
// CSR API. The impersonation proxy's signer, last, is added by runServe.
func buildStrategies(ctx context.Context, f *serveFlags, clients kubeClients, changed chan<- struct{}, log *slog.Logger) (issuer.Chain, []credentialissuer.Reporter, error) {
	kube := clients.control
	var chain issuer.Chain
	var reporters []credentialissuer.Reporter
	var src signingkey.Source
	switch {
	case f.signingSecret != "" && (f.signingCertFile != "" || f.signingKeyFile != ""):
		return nil, nil, errors.New("use either --cluster-signing-secret or --cluster-signing-cert-file/--cluster-signing-key-file, not both")
	case f.signingSecret != "":
		src = signingkey.Secret{Client: kube, Namespace: f.namespace, Name: f.signingSecret}
	case f.signingCertFile != "" || f.signingKeyFile != "":
		if f.signingCertFile == "" || f.signingKeyFile == "" {
			return nil, nil, errors.New("--cluster-signing-cert-file and --cluster-signing-key-file go together")
		}
		src = signingkey.Files{CertFile: f.signingCertFile, KeyFile: f.signingKeyFile}
	}
	if src != nil {
		iss, err := signingkey.New(src, f.certTTL, nil, log.With("component", "signingkey"))
		if err != nil {
			return nil, nil, err
		}
		iss.OnChange = func() {
			select {
			case changed <- struct{}{}:
			default: // a wake-up is already pending
			}
		}
		if err := iss.Refresh(ctx); err != nil {
			log.WarnContext(ctx, "starting without the cluster signing key; will retry", "error", err)
		}
		go iss.Run(ctx, time.Minute)
		chain = append(chain, issuer.Named{Type: string(configv1alpha1.KubeClusterSigningCertificateStrategyType), Strategy: iss})
		reporters = append(reporters, signingkey.Reporter{Issuer: iss, Kube: kube})
	}
	if f.csrSigning {
		iss, err := csr.New(clients.logins, f.certTTL, 20*time.Second)
		if err != nil {
			return nil, nil, err
		}
		chain = append(chain, issuer.Named{Type: string(configv1alpha1.KubeCSRSigningCertificateStrategyType), Strategy: iss})
		reporters = append(reporters, iss)
	}
	return chain, reporters, nil
}

// startStatusWriter keeps the CredentialIssuer's strategies current: on the elected
// leader with --leader-elect, else on this replica.
func startStatusWriter(ctx context.Context, cfg *restclient.Config, kube kubernetes.Interface, f *serveFlags, reporters []credentialissuer.Reporter,
	changed <-chan struct{}, log *slog.Logger) error {
	client, err := conciergeclient.NewForConfig(suffix.WrapConfig(cfg, f.suffix))
	if err != nil {
		return err
	}
	w := &credentialissuer.Writer{
		Client: client, Name: f.credentialIssuer, Spec: f.parsedCredentialIssuerSpec, Clock: time.Now, Log: log.With("controller", "credentialissuer"),
		Reporters: reporters, Changed: changed,
	}
	run := func(ctx context.Context) { w.Run(ctx, 30*time.Second) }
	if !f.leaderElect {
		go run(ctx)
		return nil
	}
	return runWhileLeader(ctx, kube, f.namespace, log.With("component", "leaderelection"), run)
}

// kubeClients are the concierge's Kubernetes clients, each with its own rate limit
// (QPS and Burst of the configuration): a flood of unknown bearer tokens at the
// impersonation proxy (a TokenReview each) or of CSR-strategy logins then cannot starve
// the other, nor leader election and the controllers.
type kubeClients struct {
	control kubernetes.Interface // controllers, leader election, CredentialIssuer, signing key
	logins  kubernetes.Interface // the CSR strategy's requests
	proxy   kubernetes.Interface // the impersonation proxy's reviews and token
}

func newKubeClients(cfg *restclient.Config) (kubeClients, error) {
	var c kubeClients
	for _, dst := range []*kubernetes.Interface{&c.control, &c.logins, &c.proxy} {
		// Each client set made from a configuration without a RateLimiter gets a
		// token bucket of its own.
		cs, err := kubernetes.NewForConfig(restclient.CopyConfig(cfg))
		if err != nil {
			return kubeClients{}, err
		}
		*dst = cs
	}
	return c, nil
}
