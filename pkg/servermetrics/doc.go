// SPDX-License-Identifier: Apache-2.0

// Package servermetrics holds the servers' Prometheus metrics and serves them.
//
// The metrics are package variables, as the Prometheus client's own collectors are: the
// code that counts an event increments one without the metric having to be passed down to
// it. They live in controller-runtime's registry, next to its reconcile, work queue and
// client metrics and the Go runtime's and process's; RegisterSupervisor and
// RegisterConcierge add each server's own to it, so that a server exports only its own.
// No label carries user data: label values are names of the cluster's own objects
// (FederationDomains, identity providers, authenticators) or come from small fixed sets.
//
// Serve answers /metrics over HTTPS, each scrape authenticated with a TokenReview and
// authorized with a SubjectAccessReview (get on the non-resource URL /metrics), as
// Kubernetes' own components do. Profiles serves net/http/pprof on a loopback address.
package servermetrics
