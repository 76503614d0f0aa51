// SPDX-License-Identifier: Apache-2.0

package certauthority

import (
	"testing"
	"time"
)

// BenchmarkIssueClientCert measures the concierge's hot path: one P-256 key generation
// and one signature per TokenCredentialRequest.
func BenchmarkIssueClientCert(b *testing.B) {
	ca, err := New("bench-ca", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	groups := []string{"seals", "seals/admins", "developers", "system:authenticated"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ca.IssueClientCert("pinny@example.com", groups, DefaultTTL); err != nil {
			b.Fatal(err)
		}
	}
}
