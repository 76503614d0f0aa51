// SPDX-License-Identifier: Apache-2.0

// Package manifests holds no code: its directories concierge/ and supervisor/ are the
// plain YAML install manifests, applied in file-name order, and its tests check them
// without a cluster (every document parses strictly into its Kubernetes type, objects
// sit in the expected namespaces, no Secret carries data, the CRDs equal generated/crds,
// every RBAC rule is commented, and the pods are locked down). That the API server
// accepts them is tested in test/integration/manifests_test.go.
package manifests
