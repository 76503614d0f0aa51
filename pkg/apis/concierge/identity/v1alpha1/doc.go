// SPDX-License-Identifier: Apache-2.0

// Package v1alpha1 holds the identity.concierge.selkie.dev/v1alpha1 API served by the
// concierge's aggregated API server: WhoAmIRequest (cluster-scoped, create and an
// always-empty list). Its JSON shape is fixed by the docs/wire-contract.md §1.5.
//
// +k8s:deepcopy-gen=package
// +k8s:conversion-gen=github.com/selkie-dev/selkie/pkg/apis/concierge/identity
// +k8s:defaulter-gen=TypeMeta
// +k8s:openapi-gen=true
// +k8s:openapi-model-package=dev.selkie.concierge.identity.v1alpha1
// +groupName=identity.concierge.selkie.dev
package v1alpha1
