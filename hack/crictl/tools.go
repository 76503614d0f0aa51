//go:build tools

// Package tools pins crictl, the CRI client for debugging pods on the local
// environment's nodes (see docs/local-environment.md).
package tools

import _ "sigs.k8s.io/cri-tools/cmd/crictl"
