//go:build tools

// Package tools pins runc, the OCI runtime containerd's shim starts containers with.
// It builds with cgo and the seccomp tag (Debian libseccomp-dev), so pods can run with
// the RuntimeDefault seccomp profile PodSecurity "restricted" requires.
package tools

import _ "github.com/opencontainers/runc"
