// SPDX-License-Identifier: Apache-2.0

// Package server assembles the concierge's aggregated API server: the
// login.concierge.<suffix> and identity.concierge.<suffix> groups, their scheme and
// their storage, served by pkg/aggregatedapi (delegated authentication and
// authorization, a self-managed serving certificate whose CA it keeps in the
// APIServices' caBundle).
package server
