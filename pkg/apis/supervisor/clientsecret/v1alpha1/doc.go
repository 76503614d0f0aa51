// SPDX-License-Identifier: Apache-2.0

// Package v1alpha1 holds the clientsecret.supervisor.selkie.dev/v1alpha1 API served
// by the supervisor's aggregated API server: OIDCClientSecretRequest (namespaced,
// create only). Its shape is fixed by the docs/wire-contract.md §1.11.
//
// +k8s:deepcopy-gen=package
// +k8s:conversion-gen=github.com/selkie-dev/selkie/pkg/apis/supervisor/clientsecret
// +k8s:defaulter-gen=TypeMeta
// +k8s:openapi-gen=true
// +k8s:openapi-model-package=dev.selkie.supervisor.clientsecret.v1alpha1
// +groupName=clientsecret.supervisor.selkie.dev
// +groupGoName=ClientSecret
package v1alpha1
