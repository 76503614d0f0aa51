// SPDX-License-Identifier: Apache-2.0

package kubeconfig

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// validateRequestTimeout bounds one validation request.
const validateRequestTimeout = 10 * time.Second

// validateCluster GETs the new cluster URL with its CA until it answers with a status
// below 500, every interval until ctx ends (docs/wire-contract.md §3.1). Any such status counts:
// the request is anonymous, so 401 or 403 show a working endpoint.
func validateCluster(ctx context.Context, deps Deps, log *slog.Logger, server string, caPEM []byte) error {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(caPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return errors.New("could not validate the new kubeconfig: its certificate authority data holds no PEM certificate")
		}
		tlsConfig.RootCAs = pool
	}
	client := &http.Client{Timeout: validateRequestTimeout, Transport: &http.Transport{
		TLSClientConfig: tlsConfig, Proxy: http.ProxyFromEnvironment, TLSHandshakeTimeout: validateRequestTimeout}}
	defer client.CloseIdleConnections()
	lastAnswer := "" // the status of the last answer, kept when a later attempt gets none
	ping := func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, server, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode >= http.StatusInternalServerError {
			lastAnswer = "status " + resp.Status
			return errors.New(lastAnswer)
		}
		return nil
	}
	for attempt := 1; ; attempt++ {
		err := ping()
		if err == nil {
			log.Info("validated the connection to the cluster", "server", server, "attempts", attempt)
			return nil
		}
		log.Info("could not reach the cluster yet; retrying", "server", server, "attempt", attempt, "error", err)
		select {
		case <-ctx.Done():
			detail := fmt.Sprintf("last error: %v", err)
			if lastAnswer != "" && lastAnswer != err.Error() {
				detail = fmt.Sprintf("last answer: %s; last error: %v", lastAnswer, err)
			}
			return fmt.Errorf("could not validate the new kubeconfig: %s did not answer with a status below 500 within --timeout "+
				"(%s; use --skip-validation to skip this check)", server, detail)
		case <-time.After(deps.PollInterval):
		}
	}
}
