// SPDX-License-Identifier: Apache-2.0

package impersonationproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	conciergeclient "github.com/selkie-dev/selkie/generated/client/concierge/clientset/versioned"
	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/concierge/impersonator"
	"github.com/selkie-dev/selkie/pkg/ratelimit"
)

// Config is what NewController needs.
type Config struct {
	Kube      kubernetes.Interface
	Concierge conciergeclient.Interface
	Upstream  *rest.Config // the real API server, for the proxy
	Namespace string
	// NamePrefix names the Secrets and the Service: <prefix>-impersonation-proxy-signer,
	// <prefix>-impersonation-proxy-tls and <prefix>-impersonation-proxy.
	NamePrefix       string
	CredentialIssuer string
	BindAddress      net.IP
	Port             int
	ServiceSelector  map[string]string
	ServiceAccount   string
	CertTTL          time.Duration
	APIGroupSuffix   string
	LogUserInfo      bool
	// TokenFailures limits failed bearer tokens per client address at the proxy.
	TokenFailures ratelimit.Rule
	// JWTAuthenticators authenticate bearer JWTs the API server does not accept; nil:
	// none (see impersonator.Config).
	JWTAuthenticators impersonator.JWTAuthenticators
	// Fingerprint identifies tokens in the proxy's log lines.
	Fingerprint func(token string) string
	Log         *slog.Logger
}

// Controller runs the impersonation proxy on this replica while the CredentialIssuer asks
// for it, keeps its Service, certificates and signer CA current, and remembers the state
// the Reporter publishes. Every replica runs one; they share Secrets and the Service.
type Controller struct {
	cfg      Config
	signer   *Signer
	tokens   *TokenSource
	services ServiceConfig
	serving  ServingCerts

	mu       sync.Mutex
	state    state
	synced   chan struct{} // closed after the first sync
	once     sync.Once
	running  *running
	cert     *tls.Certificate
	certWait time.Duration // certificateWait unless set (tests)
	lastSign SignerCAs
}

// running is a started proxy.
type running struct {
	proxy  *impersonator.Proxy
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done closes
}

// NewController builds the controller; Run starts it.
func NewController(cfg Config) *Controller {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	name := cfg.NamePrefix + "-impersonation-proxy"
	return &Controller{
		cfg:      cfg,
		signer:   &Signer{Kube: cfg.Kube, Namespace: cfg.Namespace, Name: name + "-signer", TTL: cfg.CertTTL},
		tokens:   &TokenSource{Kube: cfg.Kube, Namespace: cfg.Namespace, ServiceAccount: cfg.ServiceAccount},
		services: ServiceConfig{Kube: cfg.Kube, Namespace: cfg.Namespace, Name: name, TargetPort: cfg.Port, Selector: cfg.ServiceSelector},
		serving:  ServingCerts{Kube: cfg.Kube, Namespace: cfg.Namespace, Name: name + "-tls"},
		synced:   make(chan struct{}),
	}
}

// Signer is the issuing strategy backed by the proxy's signer CA.
func (c *Controller) Signer() *Signer { return c.signer }

// Run syncs every period and whenever the CredentialIssuer's spec changes, until ctx
// ends; then it stops the proxy. Until the proxy listens with a serving certificate it
// syncs sooner, from one second doubling up to five (or period if shorter): a replica
// that is not the leader
// learns its load balancer's address only by syncing, and until then the Service sends
// it connections it cannot complete a TLS handshake for.
func (c *Controller) Run(ctx context.Context, period time.Duration) {
	trigger := make(chan struct{}, 1)
	go c.watch(ctx, trigger)
	backoff := time.Second
	for {
		c.sync(ctx)
		wait := period
		if !c.listening() {
			wait, backoff = min(backoff, period), min(2*backoff, notListeningMaxWait)
		} else {
			backoff = time.Second
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			c.stop()
			return
		case <-t.C:
		case <-trigger:
			t.Stop()
		}
	}
}

// notListeningMaxWait bounds the wait between syncs while the proxy is not listening
// with a certificate (a pending load balancer costs a few reads every five seconds).
const notListeningMaxWait = 5 * time.Second

// listening reports whether the last sync left the proxy serving with a certificate.
func (c *Controller) listening() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state.reason == configv1alpha1.ListeningStrategyReason && c.cert != nil
}

// watch signals trigger when the CredentialIssuer's generation changes.
func (c *Controller) watch(ctx context.Context, trigger chan<- struct{}) {
	var generation int64
	for ctx.Err() == nil {
		w, err := c.cfg.Concierge.ConfigV1alpha1().CredentialIssuers().Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + c.cfg.CredentialIssuer})
		if err == nil {
			for ev := range w.ResultChan() {
				if ci, ok := ev.Object.(*configv1alpha1.CredentialIssuer); ok && ci.Generation != generation {
					generation = ci.Generation
					select {
					case trigger <- struct{}{}:
					default:
					}
				}
			}
			w.Stop()
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
}

// sync evaluates the configuration once and records the resulting state.
func (c *Controller) sync(ctx context.Context) {
	st := c.evaluate(ctx)
	if st.reason == configv1alpha1.ErrorDuringSetupStrategyReason {
		c.cfg.Log.WarnContext(ctx, "impersonation proxy setup failed", "error", st.message)
	}
	c.mu.Lock()
	c.state = st
	c.mu.Unlock()
	c.once.Do(func() { close(c.synced) })
}

func (c *Controller) evaluate(ctx context.Context) state {
	var spec *configv1alpha1.ImpersonationProxySpec
	ci, err := c.cfg.Concierge.ConfigV1alpha1().CredentialIssuers().Get(ctx, c.cfg.CredentialIssuer, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err): // the writer creates it with these defaults
		spec = &configv1alpha1.ImpersonationProxySpec{Mode: configv1alpha1.ImpersonationProxyModeAuto}
	case err != nil:
		return setupError(fmt.Errorf("read CredentialIssuer %s: %w", c.cfg.CredentialIssuer, err))
	default:
		spec = ci.Spec.ImpersonationProxy
		if spec == nil {
			spec = &configv1alpha1.ImpersonationProxySpec{Mode: configv1alpha1.ImpersonationProxyModeAuto}
		}
	}
	active, disabled, err := Active(ctx, c.cfg.Kube, spec)
	if err != nil {
		return setupError(err)
	}
	if !active {
		c.stop()
		if err := c.services.Delete(ctx); err != nil {
			return setupError(err)
		}
		return state{reason: configv1alpha1.DisabledStrategyReason, message: disabled}
	}
	cas, err := c.signer.Refresh(ctx)
	if err != nil {
		return setupError(err)
	}
	if err := c.start(ctx, cas); err != nil {
		return setupError(err)
	}
	endpoint, err := c.services.Endpoint(ctx, spec)
	if errors.Is(err, errPending) {
		return state{reason: configv1alpha1.PendingStrategyReason, message: err.Error()}
	}
	if err != nil {
		return setupError(err)
	}
	sc, err := c.serving.Get(ctx, spec, endpointHost(endpoint))
	if err != nil {
		return setupError(err)
	}
	c.mu.Lock()
	c.cert = sc.cert
	c.mu.Unlock()
	return state{reason: configv1alpha1.ListeningStrategyReason, message: configv1alpha1.ListeningStrategyMessage,
		endpoint: "https://" + endpoint, caPEM: sc.caPEM}
}

func setupError(err error) state {
	return state{reason: configv1alpha1.ErrorDuringSetupStrategyReason, message: err.Error()}
}

// start starts the proxy unless it runs, and hands it the signer CAs when they changed.
func (c *Controller) start(ctx context.Context, cas SignerCAs) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.running; r != nil {
		select {
		case <-r.done: // it failed: report and start over
			c.running = nil
			c.signer.setActive(false)
			return fmt.Errorf("impersonation proxy stopped: %w", r.err)
		default:
			if !cas.Same(c.lastSign) {
				r.proxy.SetSignerCA(cas.Current, cas.Previous)
				c.lastSign = cas
			}
			return nil
		}
	}
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", net.JoinHostPort(c.cfg.BindAddress.String(), strconv.Itoa(c.cfg.Port)))
	if err != nil {
		return fmt.Errorf("impersonation proxy: %w", err)
	}
	proxyCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	proxy, err := impersonator.New(proxyCtx, impersonator.Config{
		Upstream: c.cfg.Upstream, Kube: c.cfg.Kube, ProxyToken: c.tokens.Token, SignerCA: cas.Current, PreviousSignerCA: cas.Previous,
		APIGroupSuffix: c.cfg.APIGroupSuffix, LogUserInfo: c.cfg.LogUserInfo, TokenFailures: c.cfg.TokenFailures,
		JWTAuthenticators: c.cfg.JWTAuthenticators, Fingerprint: c.cfg.Fingerprint, Log: c.cfg.Log.With("component", "impersonation-proxy"),
	})
	if err != nil {
		cancel()
		l.Close()
		return err
	}
	r := &running{proxy: proxy, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = proxy.ServeWithCertificate(proxyCtx, l, c.certificate)
		if r.err == nil {
			r.err = errors.New("stopped")
		}
	}()
	c.running, c.lastSign = r, cas
	c.signer.setActive(true)
	c.cfg.Log.InfoContext(ctx, "impersonation proxy listening", "address", l.Addr().String())
	return nil
}

// certificateWait bounds how long a TLS handshake waits for the serving certificate.
const certificateWait = 10 * time.Second

// certificate serves the current serving certificate. The proxy listens before the
// certificate is known (reading it takes a few API calls), and a restarted replica is
// back in the Service meanwhile: a handshake then waits for it, up to certificateWait,
// rather than fail with an internal error.
func (c *Controller) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	ctx := context.Background()
	if hello != nil && hello.Context() != nil {
		ctx = hello.Context()
	}
	wait := c.certWait
	if wait == 0 {
		wait = certificateWait
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		c.mu.Lock()
		cert := c.cert
		c.mu.Unlock()
		if cert != nil {
			return cert, nil
		}
		select {
		case <-ctx.Done():
			return nil, errors.New("the impersonation proxy has no serving certificate yet")
		case <-tick.C:
		}
	}
}

// stop stops the proxy if it runs and waits for it.
func (c *Controller) stop() {
	c.mu.Lock()
	r := c.running
	c.running, c.lastSign, c.cert = nil, SignerCAs{}, nil
	c.signer.setActive(false)
	c.mu.Unlock()
	if r != nil {
		r.cancel()
		<-r.done
		c.cfg.Log.Info("impersonation proxy stopped")
	}
}
