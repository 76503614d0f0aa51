// SPDX-License-Identifier: Apache-2.0

// Package v1alpha1 holds the session.supervisor.selkie.dev/v1alpha1 API served by the
// supervisor's aggregated API server: SupervisorSession (namespaced, in the
// supervisor's namespace; get, list and delete only). It is a Selkie extension (wire
// contract §5, "Logout and session revocation"): deleting a session revokes it.
//
// +k8s:deepcopy-gen=package
// +k8s:conversion-gen=github.com/selkie-dev/selkie/pkg/apis/supervisor/session
// +k8s:defaulter-gen=TypeMeta
// +k8s:openapi-gen=true
// +k8s:openapi-model-package=dev.selkie.supervisor.session.v1alpha1
// +groupName=session.supervisor.selkie.dev
// +groupGoName=Session
package v1alpha1
