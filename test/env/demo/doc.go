// SPDX-License-Identifier: Apache-2.0

// Package demo runs Selkie on the local environment the way `make demo` shows it: it
// builds the three binaries, starts test/env (a management and a workload control plane,
// Dex, slapd), installs the CRDs and RBAC from deploy/manifests, runs selkie-supervisor
// and selkie-concierge out of cluster as the ServiceAccounts those manifests create, sets
// up a FederationDomain with Dex and LDAP and a JWTAuthenticator, generates kubeconfigs
// with `selkie get kubeconfig` and logs in through them. Close stops every process it
// started, by PID.
//
// The servers run on 127.0.0.1, so the manifests' Deployments are skipped and their
// Services are applied as ExternalName Services for "localhost"; the APIServices point
// at the servers' real loopback ports (the aggregator connects to externalName:port).
//
// It is used by test/env/cmd/selkie-demo and by the RBAC audit integration test; it does
// not own the manifests (deploy/) nor the environment's processes (test/env).
package demo
