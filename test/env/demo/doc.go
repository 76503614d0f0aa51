// SPDX-License-Identifier: Apache-2.0

// Package demo runs Selkie on the local environment the way `make demo` shows it. It
// starts test/env (a management and a workload cluster with Dex and slapd), sets up a
// FederationDomain with Dex and LDAP and a JWTAuthenticator, generates kubeconfigs with
// `selkie get kubeconfig` and logs in through them. Close stops every process it
// started, by PID (the environment drains its nodes' pods).
//
// Two ways to run the servers:
//
//   - In cluster (Options.InCluster, what `make demo` and TestInClusterDemo use): the
//     Selkie image is built without a daemon and imported into the nodes; the Helm chart
//     installs the supervisor (two replicas, a LoadBalancer Service whose address the
//     environment reserved for the issuer, a default TLS Secret for that IP-address
//     issuer) and the Carvel templates, rendered by ytt, the concierge (two replicas,
//     cluster signing key from a Secret, impersonation proxy on a load balancer).
//   - Out of cluster (the RBAC audit test): the three binaries run on 127.0.0.1 as the
//     ServiceAccounts deploy/manifests creates; the manifests' Deployments are skipped,
//     their Services applied as ExternalName Services for "localhost", and the APIServices
//     point at the servers' loopback ports (the aggregator connects to externalName:port).
//
// It is used by test/env/cmd/selkie-demo and by integration tests; it does not own the
// manifests (deploy/) nor the environment's processes (test/env).
package demo
