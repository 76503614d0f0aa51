// SPDX-License-Identifier: Apache-2.0

package concierge

import (
	"testing"

	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// TestKubeClientsHaveTheirOwnRateLimits checks that the three clients share no token
// bucket and use the configured rate, not client-go's default of 5 per second.
func TestKubeClientsHaveTheirOwnRateLimits(t *testing.T) {
	t.Parallel()
	cmd := newServeCommand()
	qps, err := cmd.Flags().GetFloat32("kube-api-qps")
	if err != nil {
		t.Fatal(err)
	}
	burst, err := cmd.Flags().GetInt("kube-api-burst")
	if err != nil {
		t.Fatal(err)
	}
	if qps < 50 || float32(burst) < qps {
		t.Errorf("default --kube-api-qps %v, --kube-api-burst %d: too low for logins and proxy reviews", qps, burst)
	}
	clients, err := newKubeClients(&restclient.Config{Host: "https://127.0.0.1:1", QPS: qps, Burst: burst})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[flowcontrol.RateLimiter]string{}
	for name, c := range map[string]kubernetes.Interface{"control": clients.control, "logins": clients.logins, "proxy": clients.proxy} {
		l := c.CoreV1().RESTClient().GetRateLimiter()
		if l == nil || l.QPS() != qps {
			t.Errorf("%s client: limiter %v, want %v QPS", name, l, qps)
			continue
		}
		if other, dup := seen[l]; dup {
			t.Errorf("the %s and %s clients share a rate limiter", name, other)
		}
		seen[l] = name
	}
}
