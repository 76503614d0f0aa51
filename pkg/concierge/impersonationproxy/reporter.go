// SPDX-License-Identifier: Apache-2.0

package impersonationproxy

import (
	"context"
	"encoding/base64"
	"time"

	configv1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/config/v1alpha1"
)

// state is the outcome of one sync, as the ImpersonationProxy strategy reports it.
type state struct {
	reason   configv1alpha1.StrategyReason
	message  string
	endpoint string // https URL, when Listening
	caPEM    []byte // advertised CA bundle, when Listening
}

// firstSyncWait bounds how long Strategy waits for the controller's first sync.
const firstSyncWait = 20 * time.Second

// Reporter reports the ImpersonationProxy strategy of a Controller (§4.4).
type Reporter struct{ Controller *Controller }

// Strategy returns the state of the last sync (lastUpdateTime is the writer's job),
// waiting briefly for the first one.
func (r Reporter) Strategy(ctx context.Context) configv1alpha1.CredentialIssuerStrategy {
	c := r.Controller
	t := time.NewTimer(firstSyncWait)
	defer t.Stop()
	select {
	case <-c.synced:
	case <-ctx.Done():
	case <-t.C:
	}
	c.mu.Lock()
	st := c.state
	c.mu.Unlock()
	return st.strategy()
}

// strategy renders st; an empty state (no sync yet) is Pending.
func (st state) strategy() configv1alpha1.CredentialIssuerStrategy {
	s := configv1alpha1.CredentialIssuerStrategy{Type: configv1alpha1.ImpersonationProxyStrategyType,
		Status: configv1alpha1.ErrorStrategyStatus, Reason: st.reason, Message: st.message}
	switch st.reason {
	case "":
		s.Reason, s.Message = configv1alpha1.PendingStrategyReason, "impersonation proxy is being set up"
	case configv1alpha1.ListeningStrategyReason:
		s.Status = configv1alpha1.SuccessStrategyStatus
		s.Frontend = &configv1alpha1.CredentialIssuerFrontend{
			Type: configv1alpha1.ImpersonationProxyFrontendType,
			ImpersonationProxyInfo: &configv1alpha1.ImpersonationProxyInfo{
				Endpoint: st.endpoint, CertificateAuthorityData: base64.StdEncoding.EncodeToString(st.caPEM)},
		}
	}
	return s
}
