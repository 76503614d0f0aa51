// SPDX-License-Identifier: Apache-2.0

// Package env starts Selkie's local environment from real parts on loopback: one or more
// Kubernetes control planes (etcd, kube-apiserver, kube-controller-manager built from the
// Go module proxy), Dex as the upstream OIDC provider, and OpenLDAP slapd as the LDAP
// upstream, each with a fresh PKI minted by cfssl. It is used by the integration tests,
// by `make env` and by the demo.
//
// Every process is started by this package, watched, and stopped by PID when its owner is
// closed (SIGTERM, then SIGKILL after a grace period); children also receive SIGKILL if the
// process that started them dies, so a crashed or timed-out test leaves nothing running.
// The package does not own the binaries it starts: hack/peer-bins.sh builds and caches them.
package env
