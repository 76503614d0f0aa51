//go:build tools

// Package tools pins Helm, which renders deploy/helm/selkie in the tests that compare
// the chart with the Carvel templates. hack/peer-bins.sh builds it.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
