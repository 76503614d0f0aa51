// SPDX-License-Identifier: Apache-2.0

package webhook

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	authenticationv1beta1 "k8s.io/api/authentication/v1beta1"

	"github.com/selkie-dev/selkie/pkg/internal/testtls"
)

const (
	goodToken   = "good-token"
	webhookPath = "/authenticate"
)

// testWebhook is a TokenReview webhook that accepts goodToken, over TLS with
// a certificate from its own CA. It records the reviews it receives.
type testWebhook struct {
	ca  *testtls.CA
	url string // the endpoint, including webhookPath

	mu      sync.Mutex
	reviews []authenticationv1beta1.TokenReview
}

func newWebhook(t *testing.T) *testWebhook {
	t.Helper()
	wh := &testWebhook{ca: testtls.NewCA(t)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+webhookPath, wh.serve)
	wh.url = wh.ca.NewServer(t, mux).URL + webhookPath
	return wh
}

func (wh *testWebhook) serve(w http.ResponseWriter, r *http.Request) {
	var review authenticationv1beta1.TokenReview
	if err := json.NewDecoder(r.Body).Decode(&review); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	wh.mu.Lock()
	wh.reviews = append(wh.reviews, review)
	wh.mu.Unlock()

	review.Status = authenticationv1beta1.TokenReviewStatus{}
	if review.Spec.Token == goodToken {
		review.Status = authenticationv1beta1.TokenReviewStatus{
			Authenticated: true,
			User: authenticationv1beta1.UserInfo{
				Username: "pinny",
				UID:      "uid-1",
				Groups:   []string{"seals", "walruses"},
				Extra:    map[string]authenticationv1beta1.ExtraValue{"team": {"blue"}},
			},
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(review)
}

// received returns a copy of the reviews received so far.
func (wh *testWebhook) received() []authenticationv1beta1.TokenReview {
	wh.mu.Lock()
	defer wh.mu.Unlock()
	return append([]authenticationv1beta1.TokenReview(nil), wh.reviews...)
}
