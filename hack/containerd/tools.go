//go:build tools

// Package tools pins containerd 2.x, the container runtime of the local environment's
// nodes: the daemon, its runc shim and ctr (which imports image tarballs). Kubernetes
// v1.37 needs containerd 2: Debian's 1.6 is too old.
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
