// SPDX-License-Identifier: Apache-2.0

// Package crdvalidation checks objects against the generated CRDs in
// generated/crds offline, the way the API server handles a create: it prunes
// unknown fields, applies the schema defaults, and runs the OpenAPI schema, the
// list-type (set and map) and the CEL x-kubernetes-validations checks. Tests use it
// to pin the validation rules of every CRD; it is not used by the servers.
package crdvalidation
