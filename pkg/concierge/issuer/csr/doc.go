// SPDX-License-Identifier: Apache-2.0

// Package csr is the concierge's KubeCSRSigningCertificate strategy (a Selkie extension,
// docs/wire-contract.md §5): for each login it creates a certificates.k8s.io/v1 CSR for the
// kubernetes.io/kube-apiserver-client signer, approves it, and returns what the cluster
// signs. The concierge never holds the cluster's CA key, so a compromised concierge
// does not mean re-keying the cluster. The CSR API's minimum lifetime is 10 minutes
// (expirationSeconds 600), so certificates from this strategy live at least that long.
package csr
