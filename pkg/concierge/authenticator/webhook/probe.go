// SPDX-License-Identifier: Apache-2.0

package webhook

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	authenticationv1beta1 "k8s.io/api/authentication/v1beta1"
	"k8s.io/apiserver/plugin/pkg/authenticator/token/webhook"
	"k8s.io/client-go/rest"

	authenticationv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/internal/engine"
)

const (
	// dialTimeout bounds the connection probe.
	dialTimeout = 10 * time.Second
	// requestTimeout bounds each TokenReview, as kube-apiserver's webhook configuration does.
	requestTimeout = 30 * time.Second
)

func fail(reason, format string, args ...any) (string, *engine.Failure) {
	return "", &engine.Failure{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// checkEndpoint checks that spec.endpoint is an https URL and finds the proxy,
// if any, that requests to it use.
func (p *probe) checkEndpoint(context.Context) (string, *engine.Failure) {
	u, err := url.Parse(p.Spec.Endpoint)
	switch {
	case err != nil:
		return fail(authenticationv1alpha1.ReasonInvalidEndpointURL, "spec.endpoint is not a valid URL: %v", err)
	case u.Scheme != "https":
		return fail(authenticationv1alpha1.ReasonInvalidEndpointURLScheme,
			"spec.endpoint %q has scheme %q; the scheme must be https", p.Spec.Endpoint, u.Scheme)
	case u.Hostname() == "":
		return fail(authenticationv1alpha1.ReasonInvalidEndpointURL, "spec.endpoint %q has no host", p.Spec.Endpoint)
	}
	proxy, err := http.ProxyFromEnvironment(&http.Request{URL: u})
	if err != nil {
		return fail(authenticationv1alpha1.ReasonInvalidEndpointCannotDetermineProxy,
			"could not determine the proxy for spec.endpoint: %v", err)
	}
	p.endpoint, p.proxy = u, proxy
	return "", nil
}

// dial opens and closes a TLS connection to the endpoint, verifying its
// certificate against spec.tls. Behind a proxy the direct dial would not say
// anything useful, so it is skipped.
func (p *probe) dial(ctx context.Context) (string, *engine.Failure) {
	if p.proxy != nil {
		return "skipped dialing the webhook server because requests to it use a proxy", nil
	}
	port := p.endpoint.Port()
	if port == "" {
		port = "443"
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: dialTimeout}, Config: p.Bundle.TLSConfig()}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(p.endpoint.Hostname(), port))
	if err != nil {
		return "", &engine.Failure{
			Reason:  authenticationv1alpha1.ReasonUnableToDialServer,
			Message: fmt.Sprintf("cannot dial the webhook server: %v", err),
			Retry:   true,
		}
	}
	_ = conn.Close()
	return "", nil
}

// build creates the live authenticator: a TokenReview client for the endpoint
// that trusts spec.tls.
func (p *probe) build(context.Context) (string, *engine.Failure) {
	cfg := &rest.Config{
		Host:            p.Spec.Endpoint,
		TLSClientConfig: rest.TLSClientConfig{CAData: p.Bundle.PEM()},
		Timeout:         requestTimeout,
		// A negative QPS turns off client-side rate limiting, as for kube-apiserver's webhooks.
		QPS: -1,
	}
	if _, err := rest.TransportFor(cfg); err != nil {
		return fail(authenticationv1alpha1.ReasonUnableToCreateClient, "unable to create a client for the webhook: %v", err)
	}
	// No implicit audiences: the TokenReview carries none (docs/wire-contract.md §1.2).
	token, err := webhook.New(cfg, authenticationv1beta1.SchemeGroupVersion.Version, nil, *webhook.DefaultRetryBackoff())
	if err != nil {
		return fail(authenticationv1alpha1.ReasonUnableToInstantiateWebhook, "unable to instantiate the webhook: %v", err)
	}
	p.Built = token
	return "", nil
}
