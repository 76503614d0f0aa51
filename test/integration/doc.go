// SPDX-License-Identifier: Apache-2.0

// Package integration holds Selkie's end-to-end tests. They run against the real local
// environment of test/env (kube-apiserver, etcd and kube-controller-manager built from
// source, Dex, slapd) and are built only with the `integration` tag:
//
//	go test -tags integration ./test/integration/...
//
// By default TestMain starts a fresh environment; with SELKIE_ENV_FILE set it uses the
// environment that file describes (held open by `make env`), which makes iterating fast.
// A peer that cannot start fails the run with its name and the end of its log.
package integration
