// SPDX-License-Identifier: Apache-2.0

// Package signingkey is the concierge's KubeClusterSigningCertificate strategy: it signs
// client certificates with the cluster's own client-signing key pair (the kubeadm case),
// read from mounted files or a Secret and reloaded periodically, so the API server trusts
// the certificates directly. It owns loading and issuing, not status reporting.
package signingkey
