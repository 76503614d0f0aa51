// SPDX-License-Identifier: Apache-2.0

package impersonator

import (
	"os"
	"testing"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
)

func TestMain(m *testing.M) {
	// k8s.io/apiserver logs every refused request through klog; keep test output readable.
	klog.SetLogger(logr.Discard())
	os.Exit(m.Run())
}
