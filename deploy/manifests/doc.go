// SPDX-License-Identifier: Apache-2.0

// Package manifests holds no code: its files are the plain YAML install manifests,
// rendered by hack/update-deploy.sh from the Carvel templates in deploy/carvel with the
// default values (make verify fails when they drift). Each component has two files, the
// CRDs (<component>-crds.yaml) and everything else (<component>.yaml), applied in that
// order. The tests check them without a cluster: every document parses strictly into
// its Kubernetes type, objects sit in the expected namespaces, no Secret carries data,
// the CRDs equal generated/crds, every RBAC rule of the templates is commented, the
// pods are locked down, and the metrics listener is wired (flag, ports, the API
// Service's label, an unbound metrics-reader ClusterRole). That the API server accepts them is tested in
// test/integration/manifests_test.go.
package manifests
