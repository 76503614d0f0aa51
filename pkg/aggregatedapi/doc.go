// SPDX-License-Identifier: Apache-2.0

// Package aggregatedapi runs a k8s.io/apiserver generic server as an aggregated API of
// the cluster it talks to: delegated authentication and authorization, a self-managed
// serving certificate kept in a Secret shared by replicas and renewed before it expires,
// the APIServices' caBundle kept in step with it, and the aggregator's HTTP/2 connection
// kept open across anonymous requests. The concierge and the supervisor both serve their
// aggregated groups through it.
//
// It knows no API group: callers pass the scheme and the REST storage of each group.
package aggregatedapi
