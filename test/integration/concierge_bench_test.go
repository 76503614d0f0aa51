// SPDX-License-Identifier: Apache-2.0

//go:build integration

package integration

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BenchmarkTokenCredentialRequest measures logins through the real path: an anonymous
// TokenCredentialRequest to kube-apiserver, proxied by the aggregator to the concierge,
// which validates a Dex ID token and signs a certificate with the cluster key. It reports
// requests per second and the latency percentiles; run it with `make bench`.
func BenchmarkTokenCredentialRequest(b *testing.B) {
	c := sharedConcierge(b)
	name := createJWTAuthenticator(b, c.cluster, testEnv.Dex.ClientID)
	user, _ := testEnv.User("pinny")
	token := dexIDToken(b, user)
	client := anonymousConciergeClient(b, c.cluster).LoginV1alpha1().TokenCredentialRequests()
	req := newTCR(token, "JWTAuthenticator", name)
	// Warm the connection and the authenticator's key set.
	if resp, err := client.Create(context.Background(), req, metav1.CreateOptions{}); err != nil || resp.Status.Credential == nil {
		b.Fatalf("warm-up login failed: %v %+v", err, resp)
	}

	var mu sync.Mutex
	var latencies []time.Duration
	var failures int
	var firstFailure error
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t0 := time.Now()
			resp, err := client.Create(context.Background(), req, metav1.CreateOptions{})
			d := time.Since(t0)
			mu.Lock()
			if err != nil || resp.Status.Credential == nil {
				// Counted and reported, then failed on below: every login should succeed.
				failures++
				if firstFailure == nil {
					firstFailure = fmt.Errorf("%v (status %+v)", err, resp)
				}
			} else {
				latencies = append(latencies, d)
			}
			mu.Unlock()
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(latencies)
	if total := failures + len(latencies); failures > 0 {
		b.ReportMetric(100*float64(failures)/float64(total), "%failed")
		b.Logf("%d of %d logins failed; first: %v", failures, total, firstFailure)
		b.Errorf("%d logins failed", failures)
	}
	if n := len(latencies); n > 0 {
		b.ReportMetric(float64(n)/elapsed.Seconds(), "req/s")
		b.ReportMetric(float64(latencies[n/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(latencies[min(n-1, n*99/100)].Microseconds())/1000, "p99-ms")
	}
}
