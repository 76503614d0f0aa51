// SPDX-License-Identifier: Apache-2.0

package webhook

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apiserver/pkg/authentication/user"

	v1alpha1 "github.com/selkie-dev/selkie/pkg/apis/concierge/authentication/v1alpha1"
)

// TestAuthenticate checks the authenticator a Ready WebhookAuthenticator
// stores: it POSTs an authentication.k8s.io/v1beta1 TokenReview without
// audiences to the endpoint and returns the user the webhook approves.
func TestAuthenticate(t *testing.T) {
	t.Parallel()
	wh := newWebhook(t)
	r := newReconciler(t, newWebhookAuthenticator(v1alpha1.WebhookAuthenticatorSpec{Endpoint: wh.url, TLS: inlineTLS(wh)}))
	reconcileOnce(t, r)
	authn, ok := r.Cache.Get(cacheKey())
	if !ok {
		t.Fatal("authenticator not in the cache")
	}

	resp, ok, err := authn.AuthenticateToken(context.Background(), goodToken)
	if err != nil || !ok {
		t.Fatalf("AuthenticateToken(good) = %v, %v", ok, err)
	}
	want := &user.DefaultInfo{
		Name:   "pinny",
		UID:    "uid-1",
		Groups: []string{"seals", "walruses"},
		Extra:  map[string][]string{"team": {"blue"}},
	}
	if diff := cmp.Diff(want, resp.User); diff != "" {
		t.Errorf("user (-want +got):\n%s", diff)
	}

	if _, ok, err := authn.AuthenticateToken(context.Background(), "bad-token"); ok || err != nil {
		t.Errorf("AuthenticateToken(bad) = %v, %v; want false, nil", ok, err)
	}

	reviews := wh.received()
	if len(reviews) != 2 {
		t.Fatalf("webhook received %d reviews, want 2", len(reviews))
	}
	for _, rev := range reviews {
		if rev.APIVersion != "authentication.k8s.io/v1beta1" || rev.Kind != "TokenReview" {
			t.Errorf("review is %s %s, want authentication.k8s.io/v1beta1 TokenReview", rev.APIVersion, rev.Kind)
		}
		if len(rev.Spec.Audiences) != 0 {
			t.Errorf("review audiences = %v, want none", rev.Spec.Audiences)
		}
	}
}
