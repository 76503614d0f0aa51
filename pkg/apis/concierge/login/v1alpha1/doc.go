// SPDX-License-Identifier: Apache-2.0

// Package v1alpha1 holds the login.concierge.selkie.dev/v1alpha1 API served by the
// concierge's aggregated API server: TokenCredentialRequest (cluster-scoped,
// create and list). Its JSON shape is fixed by the docs/wire-contract.md §1.4 and shared
// with the reference Pinniped clients.
//
// +k8s:deepcopy-gen=package
// +k8s:conversion-gen=github.com/selkie-dev/selkie/pkg/apis/concierge/login
// +k8s:defaulter-gen=TypeMeta
// +k8s:openapi-gen=true
// +k8s:openapi-model-package=dev.selkie.concierge.login.v1alpha1
// +groupName=login.concierge.selkie.dev
package v1alpha1
