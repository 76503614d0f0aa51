// SPDX-License-Identifier: Apache-2.0

// Package conciergeclient sends TokenCredentialRequests to a concierge, through the API
// server's aggregation layer or the impersonation proxy, anonymously (the token is the
// credential) and in JSON, as docs/wire-contract.md requires of clients.
package conciergeclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientauthv1beta1 "k8s.io/client-go/pkg/apis/clientauthentication/v1beta1"

	loginv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/login/v1alpha1"
	"github.com/selkie-dev/selkie/pkg/apis/suffix"
	"github.com/selkie-dev/selkie/pkg/cli/httpretry"
)

// Config says where the concierge is and which authenticator validates the token.
type Config struct {
	// Endpoint is the API server's or the impersonation proxy's URL.
	Endpoint string
	// CABundle (PEM) verifies Endpoint; empty uses the system roots.
	CABundle []byte
	// APIGroupSuffix is the install's suffix (pinniped.dev for the reference).
	APIGroupSuffix string
	// AuthenticatorType is jwt or webhook; AuthenticatorName names it.
	AuthenticatorType string
	AuthenticatorName string
	// Log receives debug records (the retries); nil logs nothing.
	Log *slog.Logger
	// Sleep waits between retries; nil waits on a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Timeout bounds one TokenCredentialRequest, retries included.
const Timeout = 30 * time.Second

// ExchangeToken trades token for a client certificate.
func ExchangeToken(ctx context.Context, cfg Config, token string) (*clientauthv1beta1.ExecCredentialStatus, error) {
	kind := map[string]string{"jwt": "JWTAuthenticator", "webhook": "WebhookAuthenticator"}[strings.ToLower(cfg.AuthenticatorType)]
	if kind == "" || cfg.AuthenticatorName == "" {
		return nil, fmt.Errorf("invalid concierge authenticator %q/%q: the type must be jwt or webhook and the name non-empty", cfg.AuthenticatorType, cfg.AuthenticatorName)
	}
	if !strings.HasPrefix(cfg.Endpoint, "https://") {
		return nil, fmt.Errorf("concierge endpoint %q must be an https URL", cfg.Endpoint)
	}
	group := suffix.Group("login.concierge."+suffix.Default, cfg.APIGroupSuffix)
	authGroup := suffix.Group("authentication.concierge."+suffix.Default, cfg.APIGroupSuffix)
	body, err := json.Marshal(&loginv1alpha1.TokenCredentialRequest{
		TypeMeta: metav1.TypeMeta{APIVersion: group + "/v1alpha1", Kind: "TokenCredentialRequest"},
		Spec: loginv1alpha1.TokenCredentialRequestSpec{Token: token,
			Authenticator: corev1.TypedLocalObjectReference{APIGroup: &authGroup, Kind: kind, Name: cfg.AuthenticatorName}},
	})
	if err != nil {
		return nil, err
	}
	client, err := httpClient(cfg.CABundle)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	url := strings.TrimSuffix(cfg.Endpoint, "/") + "/apis/" + group + "/v1alpha1/tokencredentialrequests"
	// A TokenCredentialRequest only issues a certificate, so repeating one is harmless.
	// It is retried like a token request (httpretry): when it never reached the
	// concierge, or the answer is 502, 503, 504 or 429, as the aggregator gives while the
	// concierge's pods are replaced. Other failures are reported at once.
	resp, err := httpretry.Do(ctx, client, func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		return req, nil
	}, httpretry.Options{Log: cfg.Log, Sleep: cfg.Sleep})
	if err != nil {
		return nil, fmt.Errorf("could not reach the concierge: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("could not login: the concierge answered %s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	var tcr loginv1alpha1.TokenCredentialRequest
	if err := json.Unmarshal(raw, &tcr); err != nil {
		return nil, fmt.Errorf("could not login: decode the TokenCredentialRequest: %w", err)
	}
	switch {
	case tcr.Status.Message != nil:
		return nil, fmt.Errorf("could not login: %s", *tcr.Status.Message)
	case tcr.Status.Credential == nil:
		return nil, errors.New("could not login: the concierge returned no credential")
	}
	c := tcr.Status.Credential
	exp := c.ExpirationTimestamp
	return &clientauthv1beta1.ExecCredentialStatus{ExpirationTimestamp: &exp, Token: c.Token,
		ClientCertificateData: c.ClientCertificateData, ClientKeyData: c.ClientKeyData}, nil
}

func httpClient(caBundle []byte) (*http.Client, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caBundle) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caBundle) {
			return nil, errors.New("the concierge CA bundle holds no PEM certificate")
		}
		tlsConfig.RootCAs = pool
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig, Proxy: http.ProxyFromEnvironment}}, nil
}
