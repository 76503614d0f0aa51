// SPDX-License-Identifier: Apache-2.0

// Package helm holds no code: selkie/ is the Helm chart, with the same values as the
// Carvel templates in deploy/carvel (values.yaml, values.schema.json and the chart's
// CRD copies are rendered from those by hack/update-deploy.sh). Its tests render the
// chart with Helm and the templates with ytt, both built from the Go module proxy by
// hack/peer-bins.sh, and compare the objects.
package helm
