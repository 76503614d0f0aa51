// SPDX-License-Identifier: Apache-2.0

package impersonationproxy

import (
	"context"
	"fmt"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TokenLifetime is the lifetime requested for the proxy's ServiceAccount tokens (§4.3).
const TokenLifetime = 24 * time.Hour

// TokenSource returns TokenRequest tokens of the proxy's ServiceAccount, cached and
// renewed once 80% of their lifetime has passed (as the kubelet does); while renewal
// fails the cached token is returned until it expires.
type TokenSource struct {
	Kube           kubernetes.Interface
	Namespace      string
	ServiceAccount string
	Clock          func() time.Time // nil: time.Now

	mu              sync.Mutex
	token           string
	renewAt, expiry time.Time
}

func (t *TokenSource) now() time.Time {
	if t.Clock != nil {
		return t.Clock()
	}
	return time.Now()
}

// Token returns a valid token, requesting a new one when needed.
func (t *TokenSource) Token(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if t.token != "" && now.Before(t.renewAt) {
		return t.token, nil
	}
	seconds := int64(TokenLifetime.Seconds())
	tr, err := t.Kube.CoreV1().ServiceAccounts(t.Namespace).CreateToken(ctx, t.ServiceAccount, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds}}, metav1.CreateOptions{})
	if err != nil {
		if t.token != "" && now.Before(t.expiry) {
			return t.token, nil
		}
		return "", fmt.Errorf("token for ServiceAccount %s/%s: %w", t.Namespace, t.ServiceAccount, err)
	}
	expiry := tr.Status.ExpirationTimestamp.Time
	if expiry.IsZero() || !expiry.After(now) {
		expiry = now.Add(TokenLifetime)
	}
	t.token, t.expiry = tr.Status.Token, expiry
	t.renewAt = now.Add(expiry.Sub(now) * 8 / 10)
	return t.token, nil
}
