// SPDX-License-Identifier: Apache-2.0

package kubeconfig

import (
	"context"
	"encoding/pem"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// When the deadline cuts an attempt short, the error still names the last answer the
// cluster gave, which is what the user needs to see.
func TestValidateClusterNamesTheLastAnswer(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := newTLSServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		<-r.Context().Done() // later attempts get no answer before the deadline
	})
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := validateCluster(ctx, Deps{PollInterval: 10 * time.Millisecond}, slog.New(slog.DiscardHandler), srv.URL, caPEM)
	if err == nil || !strings.Contains(err.Error(), "last answer: status 502 Bad Gateway") {
		t.Errorf("error %v does not name the last answer (502)", err)
	}
}
