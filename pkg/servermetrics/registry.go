// SPDX-License-Identifier: Apache-2.0

package servermetrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Registry is the one registry a server's /metrics shows: controller-runtime's, which
// already holds its reconcile, work queue, REST client and leader election metrics and
// the Go runtime and process collectors.
var Registry = ctrlmetrics.Registry

// register adds cs to Registry; a collector registered before is kept (tests and a second
// server in one process register again).
func register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := Registry.Register(c); err != nil {
			if are := (prometheus.AlreadyRegisteredError{}); errors.As(err, &are) {
				continue
			}
			return err
		}
	}
	return nil
}
